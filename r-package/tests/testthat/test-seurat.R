suppressPackageStartupMessages(library(SeuratObject))

test_that("Seurat round trip: meta.data column, DimReduc, Idents and the command log", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    idents_before <- Idents(seu)
    out <- runScLSTM(seu, k = 3, seed = 1, n_steps = test_steps(), batch_size = test_batch())

    expect_s4_class(out, "Seurat")
    expect_identical(colnames(out), colnames(seu))
    cl <- out$sclstm_clusters
    expect_true(is.factor(cl))
    expect_identical(levels(cl), c("0", "1", "2"))
    expect_identical(names(cl), colnames(seu))
    expect_identical(Idents(out), idents_before) # set.ident = FALSE leaves them

    red <- out[["sclstm"]]
    expect_s4_class(red, "DimReduc")
    expect_identical(Key(red), "SCLSTM_")
    emb <- Embeddings(red)
    expect_identical(rownames(emb), colnames(seu))
    expect_true(all(startsWith(colnames(emb), "SCLSTM_")))
    expect_identical(DefaultAssay(red), "RNA")
    expect_identical(as.integer(Misc(red)$sclstm$n_clusters), 3L)
    expect_identical(as.integer(Misc(out, "sclstm")$n_clusters), 3L) # where sclstm.io reads them

    cmd <- out@commands[["runScLSTM.RNA"]]
    expect_s4_class(cmd, "SeuratCommand")
    expect_match(cmd@call.string, "runScLSTM(seu, k = 3", fixed = TRUE)
    expect_identical(cmd@params$k, 3)
    expect_identical(cmd@params$seed, 1)
    expect_identical(cmd@params$n_steps, test_steps())
    expect_identical(cmd@params$verbose, TRUE) # logged as Seurat's own commands log theirs
    expect_identical(cmd@assay.used, "RNA")

    with_idents <- run_fast(seu, k = 3, seed = 1, set.ident = TRUE)
    expect_identical(unname(Idents(with_idents)), unname(cl))
    expect_identical(names(Idents(with_idents)), colnames(seu))
})

test_that("SingleCellExperiment and Seurat give the same clusters for the same counts", {
    d <- load_dataset("pollen")
    sce <- run_fast(make_sce(d), k = 11, seed = 5)
    seu <- run_fast(make_seurat(d), k = 11, seed = 5)
    expect_identical(unname(seu$sclstm_clusters), unname(sce$sclstm_clusters))
    expect_equal(unname(Embeddings(seu[["sclstm"]])),
                 unname(SingleCellExperiment::reducedDim(sce, "SCLSTM")))
})

test_that("assay = picks another assay; labelled mode reads meta.data; errors are clear", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    seu[["ALT"]] <- CreateAssayObject(counts = GetAssayData(seu, slot = "counts"))
    default <- run_fast(seu, k = 3, seed = 4)
    alt <- run_fast(seu, k = 3, seed = 4, assay = "ALT")
    expect_identical(unname(alt$sclstm_clusters), unname(default$sclstm_clusters))
    expect_identical(DefaultAssay(alt[["sclstm"]]), "ALT")
    expect_false(is.null(alt@commands[["runScLSTM.ALT"]]))

    seu$partial <- seu$cell_type
    seu$partial[c(1, 10, 20, 30)] <- NA
    lab <- run_fast(seu, labels = "partial", seed = 0)
    md <- Misc(lab[["sclstm"]])$sclstm
    expect_identical(md$mode, "labelled")
    expect_identical(unname(md$labelled_mask), unname(!is.na(seu$partial)))
    expect_true(is.factor(lab$sclstm_predicted) && !anyNA(lab$sclstm_predicted))
    expect_identical(names(lab$sclstm_predicted_confidence), colnames(seu))
    expect_identical(lab@commands[["runScLSTM.RNA"]]@params$labels, "partial")

    expect_error(runScLSTM(seu, assay = "ADT"), "assay = 'ADT' is not an assay.*RNA, ALT")
    expect_error(runScLSTM(seu, labels = "celltype"),
                 "labels = 'celltype' is not a column of the meta.data.*cell_type")
    expect_error(runScLSTM(seu, k = 31), "larger than the number of cells \\(30\\)")
})

test_that("a re-run without labels drops an earlier labelled run's predictions", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    seu$partial <- seu$cell_type
    seu$partial[c(1, 10, 20)] <- NA
    lab <- run_fast(seu, labels = "partial", seed = 0)
    expect_true("sclstm_predicted" %in% colnames(lab[[]]))
    again <- suppressMessages(run_fast(lab, k = 3, seed = 0))
    expect_false(any(c("sclstm_predicted", "sclstm_predicted_confidence") %in% colnames(again[[]])))
    expect_identical(Misc(again, "sclstm")$mode, "unsupervised")
})

test_that("reduction.name and reduction.key are checked before the fit; nothing else is replaced", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    seu[["pca"]] <- CreateDimReducObject(
        embeddings = matrix(1, ncol(seu), 2, dimnames = list(colnames(seu), c("PC_1", "PC_2"))),
        key = "PC_", assay = "RNA")
    # another method's reduction is the user's: not silently replaced
    expect_error(runScLSTM(seu, reduction.name = "pca"),
                 "reduction.name = 'pca' is an existing reduction not made by runScLSTM\\(\\) \\(key PC_\\)")
    # a meta.data column's name would hide the DimReduc (x[["cell_type"]] gives the column)
    expect_error(runScLSTM(seu, reduction.name = "cell_type"),
                 "reduction.name = 'cell_type' is a meta.data column")
    expect_error(runScLSTM(seu, reduction.name = "sclstm_clusters"), "is a meta.data column")
    expect_error(runScLSTM(seu, reduction.name = "RNA"), "already the name of an assay")
    expect_error(runScLSTM(seu, reduction.name = NULL), "reduction.name must be a single")
    # Seurat's rule for keys, before a fit rather than a renamed key or an error after it
    expect_error(runScLSTM(seu, reduction.key = "my.key_"),
                 "reduction.key must be a letter, then letters and digits, then an underscore")
    # SeuratObject 5's rule: a key starts with a letter (before: "1A_" was taken)
    expect_error(runScLSTM(seu, reduction.key = "1A_"), "reduction.key must be a letter")
    expect_error(runScLSTM(seu, reduction.key = ""), "reduction.key must be")
    # a key another reduction or an assay holds would be changed by Seurat after the fit
    expect_error(runScLSTM(seu, reduction.key = "PC_"),
                 "reduction.key = 'PC_' is already the key of the reduction 'pca' of this Seurat object")
    expect_error(runScLSTM(seu, reduction.key = Key(seu[["RNA"]])),
                 paste0("is already the key of the assay 'RNA'"))
    expect_error(applyScLSTM(seu, "m.pt", reduction.key = "PC_"),
                 "is already the key of the reduction 'pca'")

    out <- run_fast(seu, k = 3, seed = 1)
    expect_identical(Embeddings(out[["pca"]]), Embeddings(seu[["pca"]]))
    # a re-run under the same name replaces the earlier run's reduction
    again <- suppressMessages(run_fast(out, k = 2, seed = 1))
    expect_identical(sort(Reductions(again)), c("pca", "sclstm"))
    expect_identical(as.integer(Misc(again[["sclstm"]])$sclstm$n_clusters), 2L)
    expect_identical(Key(again[["sclstm"]]), "SCLSTM_")
    # replacing it may keep its key, not take another reduction's
    expect_error(runScLSTM(again, reduction.key = "PC_"), "already the key of the reduction 'pca'")
    expect_identical(Key(again[["pca"]]), "PC_")
})

test_that("runs under two reduction names: each its DimReduc and column, sclstm_clusters the latest", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    first <- run_fast(seu, k = 3, seed = 1)
    # the default run's own column is sclstm_clusters, which the latest run takes: said, not
    # silent, and the default run's DimReduc no longer claims it (before: it still named it)
    expect_warning(
        both <- run_fast(first, k = 2, seed = 1, reduction.name = "sclstm_k2", reduction.key = "SCLSTMK2_"),
        "sclstm_clusters held the clusters of the run in the DimReduc 'sclstm' and now holds this run's")
    expect_identical(both$sclstm_k2_clusters, both$sclstm_clusters) # the latest run in sclstm_clusters
    expect_identical(levels(both$sclstm_k2_clusters), c("0", "1"))
    expect_identical(unname(Embeddings(both[["sclstm"]])), unname(Embeddings(first[["sclstm"]])))
    expect_identical(as.integer(Misc(both[["sclstm"]])$sclstm$n_clusters), 3L)
    # each run's DimReduc records the clusters column it wrote
    expect_identical(Misc(both[["sclstm_k2"]])$clusters_column, "sclstm_k2_clusters")
    expect_null(Misc(both[["sclstm"]])$clusters_column)
    # each run keeps its command log entry (the second used to replace the first's)
    expect_identical(both@commands[["runScLSTM.RNA"]]@params$k, 3)
    expect_identical(both@commands[["runScLSTM.RNA.sclstm_k2"]]@params$k, 2)
    # a second run under the same other name: no default run's column to release, no warning
    expect_warning(first_only <- run_fast(both, k = 3, seed = 1, reduction.name = "sclstm_k2",
                                          reduction.key = "SCLSTMK2_"), NA)
    expect_identical(nlevels(first_only$sclstm_k2_clusters), 3L) # a re-run under a name replaces its column
    # a column of the user's is never the target
    seu$mine_clusters <- seu$cell_type
    expect_error(runScLSTM(seu, reduction.name = "mine", reduction.key = "MINE_"),
                 "would store its clusters in the meta.data column 'mine_clusters'")
})

test_that("a DimReduc of applyScLSTM() does not make a user's <name>_clusters column sclstm's", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    model <- tempfile(fileext = ".pt")
    suppressMessages(run_fast(d$counts, k = 3, seed = 1, save.model = model))
    seu$mine_clusters <- seu$cell_type
    # applyScLSTM() writes no clusters column, so its reduction claims none
    applied <- applyScLSTM(seu, model, reduction.name = "mine", reduction.key = "MINE_")
    expect_null(Misc(applied[["mine"]])$clusters_column)
    expect_error(runScLSTM(applied, k = 3, reduction.name = "mine", reduction.key = "MINE_"),
                 "would store its clusters in the meta.data column 'mine_clusters', which this Seurat object already has and no earlier runScLSTM\\(\\) under that name wrote.*x\\[\\[\"mine_clusters\"\\]\\] <- NULL")
    expect_identical(applied$mine_clusters, seu$mine_clusters)

    # a run's column stays the run's when applyScLSTM() replaces its reduction: a re-run may
    # replace it
    run <- suppressMessages(run_fast(seu, k = 3, seed = 1, reduction.name = "k3",
                                     reduction.key = "KTHREE_"))
    expect_identical(Misc(run[["k3"]])$clusters_column, "k3_clusters")
    reapplied <- applyScLSTM(run, model, reduction.name = "k3", reduction.key = "KTHREE_")
    expect_identical(Misc(reapplied[["k3"]])$clusters_column, "k3_clusters")
    # as ?applyScLSTM says: the DimReduc is the model's, the run's clusters columns and
    # details stay
    expect_identical(Misc(reapplied[["k3"]])$sclstm$model_file, model)
    expect_identical(reapplied$k3_clusters, run$k3_clusters)
    expect_identical(reapplied$sclstm_clusters, run$sclstm_clusters)
    expect_identical(Misc(reapplied, "sclstm"), Misc(run, "sclstm"))
    rerun <- suppressMessages(run_fast(reapplied, k = 2, seed = 1, reduction.name = "k3",
                                       reduction.key = "KTHREE_"))
    expect_identical(levels(rerun$k3_clusters), c("0", "1"))
    expect_identical(rerun$mine_clusters, seu$mine_clusters)
})

test_that("an assay without counts is an error naming the assays that have them", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    lognorm <- log1p(d$counts)
    seu[["integrated"]] <- suppressWarnings(CreateAssayObject(data = lognorm))
    DefaultAssay(seu) <- "integrated"
    expect_error(runScLSTM(seu, k = 3),
                 "assay 'integrated' .* has no counts.*pass assay = \"RNA\" \\(assays with counts: RNA\\)")
    data_only <- suppressWarnings(CreateSeuratObject(CreateAssayObject(data = lognorm)))
    expect_error(runScLSTM(data_only, k = 3), "no assay of this object has counts")
})

test_that("after SCTransform() the raw counts of RNA are read, not SCT's corrected ones", {
    if (!requireNamespace("Seurat", quietly = TRUE)) .skip_or_fail("Seurat is not installed")
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    corrected <- ceiling(d$counts / 2) # not the raw counts
    seu[["SCT"]] <- methods::as(suppressWarnings(CreateAssayObject(counts = corrected)), "SCTAssay")
    DefaultAssay(seu) <- "SCT"
    expect_message(out <- run_fast(seu, k = 3, seed = 4),
                   "The default assay 'SCT' holds counts SCTransform\\(\\) corrected; reading the raw counts of assay 'RNA' \\(pass assay = \"SCT\"")
    expect_message(quiet <- run_fast(seu, k = 3, seed = 4, verbose = FALSE), NA) # verbose = FALSE: no message
    expect_identical(unname(quiet$sclstm_clusters), unname(out$sclstm_clusters))
    raw <- run_fast(seu, k = 3, seed = 4, assay = "RNA", verbose = FALSE)
    expect_identical(unname(out$sclstm_clusters), unname(raw$sclstm_clusters))
    expect_identical(DefaultAssay(out[["sclstm"]]), "RNA")
    expect_identical(DefaultAssay(out), "SCT") # the user's default is left as it was
    sct <- run_fast(seu, k = 3, seed = 4, assay = "SCT", verbose = FALSE) # asked for: read as asked
    expect_identical(DefaultAssay(sct[["sclstm"]]), "SCT")
    expect_false(isTRUE(all.equal(Embeddings(sct[["sclstm"]]), Embeddings(out[["sclstm"]]))))
    no_raw <- seu # RNA without counts (only normalised data): the corrected counts, said so
    no_raw[["RNA"]] <- suppressWarnings(CreateAssayObject(data = log1p(d$counts)))
    expect_message(only_sct <- run_fast(no_raw, k = 3, seed = 4),
                   "assay 'RNA' has no raw counts; reading the corrected ones")
    expect_identical(DefaultAssay(only_sct[["sclstm"]]), "SCT")

    # the assay SCTransform() read is the one its models name (umi.assay), e.g. Visium's "Spatial"
    spatial <- suppressWarnings(CreateSeuratObject(counts = d$counts, assay = "Spatial"))
    sct_of_spatial <- methods::as(suppressWarnings(CreateAssayObject(counts = corrected)), "SCTAssay")
    model <- methods::new("SCTModel", feature.attributes = data.frame(),
                          cell.attributes = data.frame(row.names = colnames(spatial)), clips = list(),
                          umi.assay = "Spatial", model = "y ~ log_umi", arguments = list())
    methods::slot(sct_of_spatial, "SCTModel.list") <- list(model1 = model)
    spatial[["SCT"]] <- sct_of_spatial
    DefaultAssay(spatial) <- "SCT"
    expect_message(visium <- run_fast(spatial, k = 3, seed = 4), "reading the raw counts of assay 'Spatial'")
    expect_identical(DefaultAssay(visium[["sclstm"]]), "Spatial")
})

test_that("predicted types keep the labels' factor levels, in their order", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    seu$lab <- factor(seu$cell_type, levels = c("trophectoderm", "PE", "epiblast", "unused"))
    seu$lab[c(1, 10, 20)] <- NA
    out <- run_fast(seu, labels = "lab", seed = 0)
    # Python sorts the classes as text ("PE", "epiblast", ...); a level no cell has is no class
    expect_identical(levels(out$sclstm_predicted), c("trophectoderm", "PE", "epiblast"))
    expect_false(anyNA(out$sclstm_predicted))
})

test_that("log values in a Seurat assay's counts get advice in Seurat's terms", {
    d <- load_dataset("blakeley")
    lognorm <- d$counts
    lognorm@x <- log1p(lognorm@x / rep(Matrix::colSums(d$counts), diff(lognorm@p)) * 1e4)
    seu <- make_seurat(list(counts = lognorm, cell_type = d$cell_type))
    expect_warning(run_fast(seu, k = 3), "look log-transformed.*for a Seurat object, an assay =")
})

test_that("a run never replaces or deletes a meta.data column of the user's", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    expect_user_columns_refused(seu, "the meta.data of x", k = 3)
    # every run writes sclstm_clusters, whatever its reduction.name
    mine <- seu
    mine$sclstm_clusters <- "mine"
    expect_error(run_fast(mine, k = 3, reduction.name = "k3", reduction.key = "KTHREE_"),
                 "already has the column 'sclstm_clusters'")
    # a run's own columns: replaced or removed by a re-run, under any name
    seu$partial <- seu$cell_type
    seu$partial[c(1, 10, 20)] <- NA
    labelled <- suppressMessages(run_fast(seu, labels = "partial", seed = 0))
    expect_identical(Misc(labelled, "sclstm")$columns_written,
                     c("sclstm_clusters", "sclstm_predicted", "sclstm_predicted_confidence",
                       "sclstm_labelled"))
    expect_identical(unname(labelled$sclstm_labelled), unname(!is.na(seu$partial)))
    expect_warning(again <- suppressMessages(run_fast(labelled, k = 3, seed = 0, reduction.name = "k3",
                                                      reduction.key = "KTHREE_")),
                   "now holds this run's")
    expect_false(any(c("sclstm_predicted", "sclstm_labelled") %in% colnames(again[[]])))
    expect_identical(Misc(again, "sclstm")$columns_written, c("sclstm_clusters", "k3_clusters"))
    again$sclstm_predicted <- "mine"
    expect_error(run_fast(again, k = 3), "already has the column 'sclstm_predicted'")
    # details written before the record was kept: read as such a run wrote
    earlier <- labelled
    earlier@misc$sclstm$columns_written <- NULL
    rerun <- suppressMessages(run_fast(earlier, k = 3, seed = 0))
    expect_false("sclstm_predicted" %in% colnames(rerun[[]]))
})

test_that("an argument of another class's method is named as such", {
    d <- load_dataset("blakeley")
    seu <- make_seurat(d)
    expect_error(runScLSTM(seu, assay.type = "counts"),
                 paste0("^unknown argument 'assay.type' \\(assay.type is for a SingleCellExperiment; ",
                        "for a Seurat object, use assay =\\); runScLSTM\\(\\) on a Seurat object takes ",
                        "k, seed, labels, save.model, assay, set.ident, reduction.name, reduction.key, verbose ",
                        "and the estimator's parameters: "))
})

test_that("a result converted between Seurat and SingleCellExperiment says the conversion dropped its record", {
    # before (audit helper-56): "no sclstm run wrote it", of sclstm's own reducedDim, and a
    # key clash that did not name the conversion
    d <- load_dataset("blakeley")
    seu <- suppressMessages(run_fast(make_seurat(d), k = 3))
    sce <- Seurat::as.SingleCellExperiment(seu)
    expect_error(run_fast(sce, k = 3),
                 "no sclstm record claims it \\(no metadata\\(x\\)\\$sclstm; as.SingleCellExperiment\\(\\) of a Seurat")
    back <- suppressWarnings(Seurat::as.Seurat(suppressMessages(run_fast(make_sce(d), k = 3)),
                                               counts = "counts", data = NULL))
    expect_error(run_fast(back, k = 3), "as.Seurat\\(\\) of a SingleCellExperiment result makes it")
})
