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
    # the cells the model trained on are named in the record, as `sclstm apply` marks them
    # (before: none, so `sclstm score` counted them, or used an earlier run's mask)
    expect_identical(md$labelled_mask, stats::setNames(rep(FALSE, 60), colnames(query)))
    again <- applyScLSTM(sce, model)
    expect_identical(unname(metadata(again)$sclstm_apply$labelled_mask), seq_len(ncol(sce)) %in% setdiff(seq_len(ncol(sce)), new))
    # genes in another order, and genes the model never saw, change nothing
    shuffled <- query[rev(seq_len(nrow(query))), ]
    extra <- Matrix::Matrix(0, 5, ncol(query), sparse = TRUE,
                            dimnames = list(paste0("extra", 1:5), colnames(query)))
    shuffled_counts <- rbind(counts(shuffled), extra)
    res <- applyScLSTM(shuffled_counts, model)
    expect_equal(unname(res$embedding), unname(reducedDim(out, "SCLSTM")), tolerance = 1e-5)
    expect_identical(unname(res$predicted), unname(out$sclstm_predicted))
    # a gene the model uses is missing: named in the error
    expect_error(applyScLSTM(counts(query)[-1, ], model),
                 "genes the model (uses|reads) are not in the data \\(e\\.g\\. ")
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
    # logged as Seurat logs its commands (before: no entry)
    cmd <- out@commands[["applyScLSTM.RNA"]]
    expect_s4_class(cmd, "SeuratCommand")
    expect_identical(cmd@params$model, model)
    expect_match(cmd@call.string, "^applyScLSTM\\(seu, model\\)$")
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
    # a folder no file can be made in (Linux's /proc/sys, even for root: the check makes one):
    # before, found by Python's save() after the whole fit
    if (dir.exists("/proc/sys")) {
        expect_error(runScLSTM(sce, save.model = "/proc/sys/m.pt"),
                     "^save.model = '/proc/sys/m.pt': (no permission to write|cannot write).* in the folder /proc/sys\\.$")
    }
    # genes are matched to a saved model by name: duplicated names are refused before the fit
    dup <- d$counts
    rownames(dup)[2:5] <- rownames(dup)[1]
    rownames(dup)[7] <- rownames(dup)[6]
    path <- tempfile(fileext = ".pt")
    expect_error(runScLSTM(dup, k = 3, save.model = path),
                 paste0("save.model: the gene names \\(row names\\) are not unique \\('",
                        rownames(dup)[1], "', '", rownames(dup)[6], "'\\); applyScLSTM\\(\\) ",
                        "matches genes to the saved model by name"))
    expect_false(file.exists(path))
    expect_error(applyScLSTM(sce, file.path(tempdir(), "absent.pt")), "model file not found")
    expect_error(applyScLSTM(sce, 3), "path of a model file")
    expect_error(applyScLSTM(sce, "m.pt", n_steps = 3), "fixed when it was fitted")
})

test_that("a model saved from counts without gene names: a warning at the fit, position on apply", {
    d <- load_dataset("blakeley")
    unnamed <- as.matrix(d$counts)
    rownames(unnamed) <- NULL
    model <- tempfile(fileext = ".pt")
    expect_warning(fitted <- suppressMessages(run_fast(unnamed, k = 3, save.model = model)),
                   "no gene names \\(row names\\).*applyScLSTM\\(\\) will match genes by position.*Give the counts row names")
    expect_true(file.exists(model))
    # by position, with or without names on the new counts (the model has none to match);
    # a warning from Python, if any, says so
    out <- withCallingHandlers(applyScLSTM(d$counts, model), warning = function(w) {
        expect_match(conditionMessage(w), "matched by position")
        invokeRestart("muffleWarning")
    })
    expect_equal(unname(out$embedding), unname(fitted$embedding), tolerance = 1e-5)
    # a bad value's cell is named as R numbers it, from 1, or by its column name (before:
    # bare counts' cells were numbered from 0 by Python)
    bad <- unnamed
    bad[5, 3] <- -1
    expect_error(applyScLSTM(bad, model), paste0("the first in cell '", colnames(bad)[3], "'"))
    colnames(bad) <- NULL
    expect_error(applyScLSTM(bad, model), "the first in cell '3'")
    # duplicated names are fine without save.model (the fit reads genes by position)
    dup <- d$counts
    rownames(dup)[2] <- rownames(dup)[1]
    expect_silent(suppressMessages(run_fast(dup, k = 3)))
})

test_that("predicted levels are all the model's classes, in the order the reference run gave them", {
    d <- load_dataset("blakeley")
    lab <- factor(d$cell_type, levels = c("trophectoderm", "PE", "epiblast"))
    lab[c(1, 10, 20)] <- NA
    model <- tempfile(fileext = ".pt")
    ref <- suppressMessages(run_fast(d$counts, labels = lab, seed = 0, save.model = model))
    expect_identical(levels(ref$predicted), c("trophectoderm", "PE", "epiblast"))
    # the model's own order (Python sorts the classes as text) is not the reference's
    classes <- as.character(unlist(sclstmPython()$ScLSTM$load(model)$classes_))
    expect_identical(classes, c("PE", "epiblast", "trophectoderm"))
    # a query of one type: every class is a level, predicted or not, in the reference's order
    pe <- d$cell_type == "PE"
    query <- applyScLSTM(d$counts[, pe], model)
    expect_identical(levels(query$predicted), levels(ref$predicted))
    sce <- applyScLSTM(make_sce(d), model)
    expect_identical(levels(sce$sclstm_predicted), levels(ref$predicted))
    expect_identical(as.character(sce$sclstm_predicted[pe]), as.character(query$predicted))

    # numbers in number order, as runScLSTM() gives them
    numbers <- c(2L, 10L, 1L)[as.integer(factor(d$cell_type))]
    numbers[c(1, 10, 20)] <- NA
    numbered <- tempfile(fileext = ".pt")
    ref_n <- suppressMessages(run_fast(d$counts, labels = numbers, seed = 0, save.model = numbered))
    expect_identical(levels(applyScLSTM(d$counts, numbered)$predicted), levels(ref_n$predicted))
    expect_identical(levels(ref_n$predicted), c("1", "2", "10"))

    # a model saved from Python has no R order: its own (classes_), as Python gives it
    est <- sclstmPython()$ScLSTM(mode = "labelled", random_state = 0L, n_steps = test_steps(), progress = FALSE,
                                 batch_size = test_batch())
    restore_log <- sclstm:::.silence_python_notes() # its kernel note, which R shows as a message
    est$fit(sclstm:::.counts_with_names(d$counts), labels = sclstm:::.labels_to_python(lab))
    restore_log()
    from_python <- tempfile(fileext = ".pt")
    est$save(from_python)
    expect_identical(levels(applyScLSTM(d$counts, from_python)$predicted),
                     c("PE", "epiblast", "trophectoderm"))

    # ... unless its fit wrote its predictions to an AnnData (sclstm cluster, tl.sclstm):
    # then the labels column's categories, in their order, an unused one kept
    adata <- sclstm:::.counts_with_names(d$counts)
    pd <- reticulate::import("pandas", convert = FALSE)
    categories <- c("trophectoderm", "PE", "epiblast", "unused")
    reticulate::py_set_item(adata$obs, "cell_type", pd$Categorical(as.list(as.character(d$cell_type)),
                                                                   categories = as.list(categories)))
    sclstmPython()$tl$write_results(adata, est, labels_key = "cell_type")
    from_cluster <- tempfile(fileext = ".pt")
    est$save(from_cluster)
    expect_identical(levels(applyScLSTM(d$counts, from_cluster)$predicted), categories)
})

test_that("assay.type takes a name or an index, as for runScLSTM()", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    model <- tempfile(fileext = ".pt")
    suppressMessages(run_fast(sce, k = 3, assay.type = 1, save.model = model))
    by_name <- applyScLSTM(sce, model, assay.type = "counts")
    by_index <- applyScLSTM(sce, model, assay.type = 1)
    expect_identical(reducedDim(by_index, "SCLSTM"), reducedDim(by_name, "SCLSTM"))
    expect_identical(metadata(by_index)$sclstm_apply$assay.type, "counts") # recorded by name
    for (bad in list(2, 1.5, "logcounts", NA)) {
        expect_error(applyScLSTM(sce, model, assay.type = bad),
                     "is not an assay of this SingleCellExperiment; give the name or index of one of its assays: counts")
        expect_error(runScLSTM(sce, k = 3, assay.type = bad),
                     "is not an assay of this SingleCellExperiment; give the name or index of one of its assays: counts")
    }
})

test_that("applyScLSTM() never replaces or deletes a prediction column of the user's", {
    d <- load_dataset("blakeley")
    lab <- d$cell_type
    lab[c(1, 10, 20)] <- NA
    model <- tempfile(fileext = ".pt")
    ref <- suppressMessages(run_fast(make_sce(d), labels = lab, seed = 0, save.model = model))
    sce <- make_sce(d)
    sce$sclstm_predicted <- "mine"
    expect_error(applyScLSTM(sce, model),
                 paste0("^colData\\(x\\) already has the column 'sclstm_predicted', which ",
                        "applyScLSTM\\(\\) would replace or remove and no sclstm run wrote ",
                        "\\(as far as the object.s records say: a merge\\(\\), cbind\\(\\), ",
                            "as.SingleCellExperiment\\(\\) or as.Seurat\\(\\) ",
                        "drops them\\); rename ",
                        "it or remove it first \\(x\\$sclstm_predicted <- NULL\\)\\.$"))
    seu <- make_seurat(d)
    seu$sclstm_predicted_confidence <- 1
    expect_error(applyScLSTM(seu, model),
                 "^the meta.data of x already has the column 'sclstm_predicted_confidence'")
    # a run's predictions are sclstm's: replaced, and the columns recorded
    out <- applyScLSTM(ref, model)
    expect_identical(metadata(out)$sclstm_apply$columns_written,
                     c("sclstm_predicted", "sclstm_predicted_confidence"))
    # an unsupervised model removes them, and the run's record forgets them
    unsupervised <- tempfile(fileext = ".pt")
    suppressMessages(run_fast(d$counts, k = 3, seed = 0, save.model = unsupervised))
    plain <- applyScLSTM(ref, unsupervised)
    expect_false("sclstm_predicted" %in% colnames(colData(plain)))
    # (the run's sclstm_labelled stays: it marks the cells the run's clusters were trained on)
    expect_identical(metadata(plain)$sclstm$columns_written, c("sclstm_clusters", "sclstm_labelled"))
    plain$sclstm_predicted <- "mine"
    expect_error(run_fast(plain, k = 3), "already has the column 'sclstm_predicted'")
    expect_error(applyScLSTM(plain, model), "already has the column 'sclstm_predicted'")
})

test_that("a Seurat object's renamed features ('_' to '-') are matched to the model's genes", {
    d <- load_dataset("blakeley")
    counts <- d$counts
    rownames(counts)[1:5] <- paste0(rownames(counts)[1:5], "_x")
    model <- tempfile(fileext = ".pt")
    suppressMessages(run_fast(counts, labels = d$cell_type, seed = 0, save.model = model))
    seu <- suppressWarnings(CreateSeuratObject(counts)) # warns that it renames the features
    expect_true(all(paste0(rownames(d$counts)[1:5], "-x") %in% rownames(seu)))
    from_matrix <- applyScLSTM(counts, model)
    # before: "5 of the ... genes the model uses are not in the data (e.g. ..._x)"
    from_seurat <- applyScLSTM(seu, model)
    expect_equal(unname(Embeddings(from_seurat[["sclstm"]])), unname(from_matrix$embedding),
                 tolerance = 1e-6)
    expect_identical(as.character(from_seurat$sclstm_predicted), as.character(from_matrix$predicted))
})

test_that("a Misc entry of the user's under sclstm's names is refused, not replaced", {
    d <- load_dataset("blakeley")
    seu <- suppressWarnings(CreateSeuratObject(d$counts))
    Misc(seu, "sclstm") <- "my note" # before: "subscript out of bounds"
    expect_error(run_fast(seu, k = 3), "^x@misc\\$sclstm holds something no sclstm run wrote")
    seu@misc$sclstm <- NULL
    Misc(seu, "sclstm_apply") <- list(note = "mine") # before: replaced without a word
    expect_error(applyScLSTM(seu, "unused.pt"), "^x@misc\\$sclstm_apply holds something no sclstm run wrote")
})

test_that("drop_empty defaults to the model's setting, as Python's transform() and the CLI's apply", {
    # before (audit helper-50): FALSE here, so a model fitted with drop_empty = TRUE stopped at
    # an empty cell that Python would have given NA
    d <- load_dataset("blakeley")
    counts <- d$counts
    counts[, 1] <- 0
    model <- tempfile(fileext = ".pt")
    # the NA rows are said, with the subset to take before FindNeighbors() (which read them
    # without a word: audit helper-56)
    expect_warning(suppressMessages(run_fast(counts, k = 3, seed = 0, drop_empty = TRUE, save.model = model)),
                   "1 cell\\(s\\) .* dropped .*keep the other cells first \\(those whose clusters are not NA\\)")
    expect_warning(out <- applyScLSTM(counts, model), "embedding rows are NA, which FindNeighbors")
    expect_true(all(is.na(out$embedding[1, ])))
    expect_false(anyNA(out$embedding[-1, ]))
    expect_error(applyScLSTM(counts, model, drop_empty = FALSE), "drop_empty = TRUE")
    expect_error(applyScLSTM(counts, model, drop_empty = "no"),
                 "^drop_empty must be TRUE, FALSE or NULL \\(the model's setting\\)\\.$")
})
