suppressPackageStartupMessages({
    library(SingleCellExperiment)
    library(SeuratObject)
})

test_that("a model saved by runScLSTM() gives new cells their types, genes matched by name", {
    d <- load_dataset("pollen")
    sce <- make_sce(d)
    set.seed(3)
    new <- sort(sample(ncol(sce), 60))
    model <- tempfile(fileext = ".pt")
    # 150 steps, not test_steps(): accuracy on the new cells is asserted below.
    ref <- runScLSTM(sce[, -new], labels = "cell_type", seed = 0, n_steps = 150L,
                     save.model = model)
    expect_true(file.exists(model))
    expect_identical(metadata(ref)$sclstm$model_file, model)
    query <- sce[, new]
    query$cell_type <- NULL  # the query's types are what is predicted
    out <- applyScLSTM(query, model)
    expect_identical(dim(reducedDim(out, "SCLSTM")), c(60L, ncol(reducedDim(ref, "SCLSTM"))))
    expect_identical(rownames(reducedDim(out, "SCLSTM")), colnames(query))
    expect_identical(levels(out$sclstm_predicted), levels(ref$sclstm_predicted))
    expect_false(anyNA(out$sclstm_predicted))
    expect_true(all(out$sclstm_predicted_confidence > 0 & out$sclstm_predicted_confidence <= 1))
    # scored only on cells the model never saw; measured 60 of 60 right (seed 0, 150 steps)
    expect_gt(mean(as.character(out$sclstm_predicted) == d$cell_type[new]), 0.85)
    md <- metadata(out)$sclstm_apply
    expect_identical(md$model_mode, "labelled")
    expect_identical(md$n_cells, 60L)
    # genes in another order, and genes the model never saw, change nothing
    shuffled <- query[rev(seq_len(nrow(query))), ]
    extra <- Matrix::Matrix(0, 5, ncol(query), sparse = TRUE,
                            dimnames = list(paste0("extra", 1:5), colnames(query)))
    shuffled_counts <- rbind(counts(shuffled), extra)
    res <- applyScLSTM(shuffled_counts, model)
    expect_equal(unname(res$embedding), unname(reducedDim(out, "SCLSTM")), tolerance = 1e-5)
    expect_identical(unname(res$predicted), unname(out$sclstm_predicted))
    # a gene the model uses is missing: named in the error
    expect_error(applyScLSTM(counts(query)[-1, ], model), "genes the model uses are not in the data")
})

test_that("an unsupervised model gives the embedding only; Seurat gets a DimReduc", {
    d <- load_dataset("biase")
    sce <- make_sce(d)
    model <- tempfile(fileext = ".pt")
    fitted <- run_fast(sce, k = 4, save.model = model)
    seu <- make_seurat(d)
    out <- applyScLSTM(seu, model)
    expect_equal(unname(SeuratObject::Embeddings(out, "sclstm")),
                 unname(reducedDim(fitted, "SCLSTM")), tolerance = 1e-5)
    expect_false("sclstm_predicted" %in% colnames(out[[]]))
    expect_identical(SeuratObject::Misc(out, "sclstm_apply")$model_mode, "unsupervised")
    expect_warning(applyScLSTM(seu, model, set.ident = TRUE), "needs a labelled model")
    # a re-run replaces its own reduction; a user's reduction name is refused
    expect_silent(applyScLSTM(out, model))
    expect_error(applyScLSTM(out, model, reduction.name = "cell_type"), "meta.data column")
})

test_that("save.model and model paths are checked, before any fit", {
    d <- load_dataset("biase")
    sce <- make_sce(d)
    expect_error(runScLSTM(sce, save.model = file.path(tempdir(), "m.txt")), "with the .pt suffix")
    expect_error(runScLSTM(sce, save.model = file.path(tempdir(), "no", "m.pt")),
                 "does not exist")
    expect_error(applyScLSTM(sce, file.path(tempdir(), "absent.pt")), "model file not found")
    expect_error(applyScLSTM(sce, 3), "path of a model file")
    expect_error(applyScLSTM(sce, "m.pt", n_steps = 3), "fixed when it was fitted")
})
