suppressPackageStartupMessages(library(SingleCellExperiment))

test_that("SCE round trip: clusters, reducedDim and metadata are stored with the cells' names", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    sce <- sce[, rev(seq_len(ncol(sce)))] # an order unlike the file's
    before <- colnames(sce)
    out <- run_fast(sce, k = 3, seed = 1)

    expect_s4_class(out, "SingleCellExperiment")
    expect_identical(colnames(out), before)
    expect_identical(assay(out, "counts"), assay(sce, "counts")) # input untouched
    cl <- out$sclstm_clusters
    expect_true(is.factor(cl))
    expect_identical(levels(cl), c("0", "1", "2"))
    expect_false(anyNA(cl))
    expect_length(cl, ncol(sce))
    sizes <- as.vector(table(cl))
    expect_identical(which.max(sizes), 1L) # cluster "0" is the largest

    emb <- reducedDim(out, "SCLSTM")
    expect_identical(rownames(emb), before)
    expect_identical(nrow(emb), ncol(sce))
    expect_true(ncol(emb) >= 2)
    expect_true(all(is.finite(emb)))

    md <- metadata(out)$sclstm
    expect_identical(md$mode, "unsupervised")
    expect_identical(as.integer(md$n_clusters), 3L)
    expect_identical(md$k_method, "given")
    expect_identical(as.integer(md$random_state), 1L)
    expect_identical(as.integer(md$params$n_steps), test_steps())
    expect_true(length(md$history) > 0)
    expect_identical(md$versions[["sclstm"]], sclstmPython()$`__version__`)
    expect_identical(md$assay.type, "counts")
})

test_that("R gives the same clusters and embedding as Python on the same counts", {
    d <- load_dataset("pollen")
    out <- run_fast(make_sce(d), k = 11, seed = 3)
    est <- python_fit(d, k = 11, seed = 3, n_steps = test_steps(), batch_size = test_batch())
    expect_identical(as.integer(as.character(out$sclstm_clusters)),
                     as.integer(est$labels_))
    expect_equal(unname(reducedDim(out, "SCLSTM")),
                 matrix(as.double(est$embedding_), nrow = ncol(out)),
                 tolerance = 1e-6)
    # Agreement with the published labels: the method works, not just runs.
    expect_gt(py_score(d$cell_type, out$sclstm_clusters)$ARI, 0.5)
})

test_that("the same seed gives the same result; cell names follow the cells", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    a <- run_fast(sce, k = 3, seed = 7)
    b <- run_fast(sce, k = 3, seed = 7)
    expect_identical(a$sclstm_clusters, b$sclstm_clusters)
    expect_identical(reducedDim(a, "SCLSTM"), reducedDim(b, "SCLSTM"))

    # Renaming the cells changes nothing but the names.
    renamed <- sce
    colnames(renamed) <- paste0("cell_", seq_len(ncol(sce)))
    r <- run_fast(renamed, k = 3, seed = 7)
    expect_identical(r$sclstm_clusters, a$sclstm_clusters)
    expect_identical(rownames(reducedDim(r, "SCLSTM")), colnames(renamed))
})

test_that("a dense assay, a dgCMatrix and another assay name give the same clusters", {
    d <- load_dataset("blakeley")
    sparse <- run_fast(d$counts, k = 3, seed = 2)
    dense <- run_fast(as.matrix(d$counts), k = 3, seed = 2)
    expect_identical(sparse$clusters, dense$clusters)
    expect_identical(names(sparse$clusters), colnames(d$counts))
    expect_identical(rownames(sparse$embedding), colnames(d$counts))
    expect_named(sparse, c("clusters", "embedding", "details"))

    sce <- SingleCellExperiment(list(raw = as.matrix(d$counts)))
    out <- run_fast(sce, k = 3, seed = 2, assay.type = "raw")
    expect_identical(unname(out$sclstm_clusters), unname(sparse$clusters))
})

test_that("sparse counts reach Python as a sparse cells x genes matrix", {
    skip_if_no_sclstm()
    d <- load_dataset("blakeley")
    py <- sclstm:::.counts_to_python(d$counts)
    sp <- reticulate::import("scipy.sparse")
    expect_true(sp$issparse(py))
    expect_identical(unlist(reticulate::py_to_r(py$shape)), rev(dim(d$counts)))
    expect_identical(reticulate::py_to_r(py$nnz), length(d$counts@x))
    dense <- sclstm:::.counts_to_python(as.matrix(d$counts[1:50, ]))
    expect_identical(unlist(reticulate::py_to_r(dense$shape)), c(ncol(d$counts), 50L))
})

test_that("k = NULL estimates the number of cell types and keeps the curve", {
    d <- load_dataset("pollen")
    out <- run_fast(make_sce(d), seed = 0)
    md <- metadata(out)$sclstm
    expect_identical(md$k_method, "estimated")
    expect_identical(nlevels(out$sclstm_clusters), as.integer(md$n_clusters))
    expect_true(length(md$k_curve) > 0)
    expect_true(md$n_clusters >= 2 && md$n_clusters <= ncol(out))
    # Pollen has 11 published types; the estimate should be in that neighbourhood.
    expect_true(abs(md$n_clusters - 11) <= 5)
})

test_that("labelled mode uses the labels column and predicts the NA cells", {
    d <- load_dataset("pollen")
    sce <- make_sce(d)
    set.seed(11)
    hidden <- sample(ncol(sce), round(0.3 * ncol(sce)))
    sce$partial <- sce$cell_type
    sce$partial[hidden] <- NA
    # 200 steps, not test_steps(): accuracy on the hidden cells is asserted below.
    out <- runScLSTM(sce, labels = "partial", seed = 0, n_steps = 200L)
    md <- metadata(out)$sclstm
    expect_identical(md$mode, "labelled")
    mask <- md$labelled_mask
    expect_identical(unname(mask), unname(!is.na(sce$partial)))
    expect_identical(names(mask), colnames(sce))
    # and per cell, so that it follows a subset and `sclstm score` on the saved object leaves
    # those cells out (before: only in the metadata, and every cell was scored)
    expect_identical(out$sclstm_labelled, unname(!is.na(sce$partial)))
    expect_identical(nlevels(out$sclstm_clusters),
                     length(unique(na.omit(sce$partial))))
    expect_false(anyNA(out$sclstm_clusters))
    # Scored only on the cells whose labels were hidden.
    expect_gt(py_score(d$cell_type[hidden], out$sclstm_clusters[hidden])$ARI, 0.5)
    # The class head names a type for every cell, from the classes it was given.
    expect_identical(levels(out$sclstm_predicted), sort(unique(as.character(na.omit(sce$partial)))))
    expect_false(anyNA(out$sclstm_predicted))
    conf <- out$sclstm_predicted_confidence
    expect_true(all(conf > 0 & conf <= 1))
    expect_gt(mean(as.character(out$sclstm_predicted[hidden]) == d$cell_type[hidden]), 0.7)
})

test_that("labels are checked as Python checks them, and their errors carry no orientation hint", {
    d <- load_dataset("blakeley")
    # fractional labels are refused, as in Python (before: sent as text, each value a class)
    expect_error(run_fast(d$counts, labels = c(0.5, 1.5, 2.5)[(seq_len(30) %% 3) + 1]),
                 "^labels look continuous \\(30 fractional values, e.g. 1.5\\); give cell types as names")
    # a label error is not about the matrix's orientation (before: "... pass t(x))" was added)
    expect_error(run_fast(d$counts, labels = rep(NA, 30)), "^all labels are missing; [^(]*$")
    # whole-number classes as R writes them, not as 1e+05
    expect_identical(sclstm:::.class_names(list(100000, 2)), c("100000", "2"))
    # a list: refused before the fit (before: R's "unimplemented type 'list'" after it)
    expect_error(run_fast(d$counts, labels = as.list(rep(c("a", "b"), 15))),
                 "^labels must be a vector or factor \\(one label per cell\\), got a list; unlist\\(\\) it first")
    # text a missing value became is missing, as in Python (before: "NA" was a class of its own)
    labs <- rep(c("a", "b", "c"), 10)
    labs[1:5] <- "NA"
    expect_warning(fit <- run_fast(d$counts, labels = labs), "5 labels are the text 'NA', taken as missing")
    expect_setequal(levels(fit$predicted), c("a", "b", "c"))
})

test_that("TRUE/FALSE matrices are not counts", {
    d <- load_dataset("blakeley")
    # before: a sparse logical matrix became 0/1 and was clustered as counts
    for (m in list(d$counts > 2, methods::as(d$counts > 2, "CsparseMatrix"))) {
        expect_error(run_fast(m), "^the counts must be numeric, got a logical \\(TRUE/FALSE\\) matrix")
    }
})

test_that("bad input gives one clear line, from R or from Python", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    expect_error(runScLSTM(sce, assay.type = "logcounts"),
                 "assay.type = 'logcounts' is not an assay.*counts")
    expect_error(runScLSTM(sce, labels = "no_such_column"),
                 "labels = 'no_such_column' is not a column of colData\\(x\\).*cell_type")
    err <- tryCatch(runScLSTM(sce, k = ncol(sce) + 5), error = identity)
    expect_s3_class(err, "sclstm_input_error")
    msg <- conditionMessage(err)
    expect_match(msg, "larger than the number of cells \\(30\\)")
    expect_false(grepl("\n", msg, fixed = TRUE))
    expect_false(grepl("Traceback|InputError", msg))
    expect_error(runScLSTM(sce, k = 2.5), "k must be NULL .* or a single whole number")
    # beyond R's integer range: an R error, not as.integer()'s NA and a Python error later
    expect_error(runScLSTM(sce, k = Inf), "k must be NULL .* or a single whole number")
    expect_error(runScLSTM(sce, k = 1e10), "k must be NULL .* or a single whole number")
    expect_error(runScLSTM(sce, k = 3, seed = 3e9), "seed must be a single non-negative")
    expect_error(ScLSTMParam(k = Inf), "k must be NULL")
    expect_error(runScLSTM(sce, seed = -1), "seed must be a single non-negative")
    empty <- d$counts
    empty[, 1] <- 0
    expect_error(runScLSTM(empty, k = 3), "pass drop_empty = TRUE to drop them") # R's spelling
    expect_error(runScLSTM(sce, labels = c("a", "b")), "one label per cell \\(30\\)")
    expect_error(runScLSTM(d$counts, n_steps = 0), "n_steps must be a positive whole number")
    expect_error(runScLSTM(list(1, 2)), "needs a SingleCellExperiment, a Seurat object")
    expect_error(runScLSTM(sce, n_clusters = 3), "pass the number of clusters as k")
    # Python's messages in R's spelling: k and NULL, not n_clusters and None
    expect_error(runScLSTM(sce, k = 1), "k must be at least 2, got 1; leave k = NULL to estimate it")
    expect_error(runScLSTM(sce, k = 40), "^k = 40 is larger than the number of cells")
    # an argument the estimator does not have is an R error naming it, not a Python TypeError
    expect_error(runScLSTM(sce, k = 3, foo = 1),
                 "unknown argument 'foo'; runScLSTM\\(\\) on a SingleCellExperiment takes k")
    expect_error(runScLSTM(sce, 3, 0, NULL, 200), "must be named")
})

test_that("estimator arguments are single values, refused in R's words before any work", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    # Python used to answer "got None" and "got [10.0, 20.0]"
    expect_error(runScLSTM(sce, k = 3, n_steps = NULL),
                 "^'n_steps' must be a single value, got NULL \\(leave it out for the default, 400\\)\\.$")
    expect_error(runScLSTM(sce, k = 3, n_steps = c(10, 20)),
                 "^'n_steps' must be a single value, got a numeric vector of length 2\\.$")
    expect_error(runScLSTM(d$counts, k = 3, kernel = NA, device = list("cpu")),
                 paste0("^'kernel' must be a single value, got NA \\(leave it out for the default, ",
                        "\"auto\"\\); 'device' must be a single value, got a list of length 1\\.$"))
    expect_error(runScLSTM(sce, k = 3, n_steps = 10, n_steps = 20), "'n_steps' given more than once")
    # Python's own checks of single values, in R's spelling: TRUE, not True; no tuple
    expect_error(runScLSTM(sce, k = 3, n_steps = TRUE),
                 "^n_steps must be a positive whole number, got TRUE\\.$")
    expect_error(runScLSTM(sce, k = 3, drop_empty = "no"),
                 "^drop_empty must be TRUE or FALSE, got 'no'\\.$")
    expect_error(runScLSTM(sce, k = 3, kernel = "dense"),
                 "^kernel must be one of 'auto', 'exact', 'landmark', got 'dense'\\.$")
    # an unknown argument is refused before any work: no warning about the counts first
    unnamed <- d$counts
    rownames(unnamed) <- NULL
    expect_no_warning(expect_error(
        runScLSTM(unnamed, k = 3, save.model = tempfile(fileext = ".pt"), foo = 1),
        "unknown argument 'foo'"))
    # nor does a name reach the R side's own internals (it used to read the matrix as cells
    # x genes, silently)
    expect_error(runScLSTM(d$counts, k = 3, cells_in_columns = FALSE),
                 "unknown argument 'cells_in_columns'; runScLSTM\\(\\) on a matrix takes k")
    expect_error(runScLSTM(sce, k = 3, cells_in_columns = FALSE), "unknown argument 'cells_in_columns'")
    # NULL where it is the parameter's default (labelled_fraction's is None) stays allowed
    lab <- d$cell_type
    lab[c(1, 10, 20)] <- NA
    out <- suppressMessages(run_fast(sce, labels = lab, labelled_fraction = NULL))
    expect_identical(metadata(out)$sclstm$mode, "labelled")
})

test_that("Python warnings reach R as warnings, in R's spelling", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    lognorm <- d$counts
    lognorm@x <- log1p(lognorm@x / rep(Matrix::colSums(d$counts), diff(lognorm@p)) * 1e4)
    SummarizedExperiment::assay(sce, "logcounts") <- lognorm
    expect_warning(out <- run_fast(sce, k = 3, assay.type = "logcounts"),
                   "look log-transformed.*assay.type = \"counts\"")
    expect_identical(ncol(out), ncol(sce))
    # and again on a second run in the same session (Python shows a warning once per place)
    expect_warning(run_fast(sce, k = 3, assay.type = "logcounts"), "look log-transformed")
    # raw counts: no warning at all
    expect_silent(suppressMessages(run_fast(sce, k = 3)))
})

test_that("the landmark path for many cells is reachable from R and recorded in metadata", {
    d <- load_dataset("pollen")
    out <- run_fast(make_sce(d), k = 11, seed = 0, kernel = "landmark",
                    n_landmarks = 64L, sample_size = 120L)
    md <- metadata(out)$sclstm
    expect_identical(md$kernel, "landmark")
    expect_identical(as.integer(md$n_landmarks), 64L)
    expect_identical(as.integer(md$training_sample), 120L)
    expect_false(isTRUE(md$guard$applied))
    expect_true(md$memory_estimate_gib > 0)
    expect_identical(nlevels(out$sclstm_clusters), 11L)
    expect_false(anyNA(out$sclstm_clusters))
})

test_that("named labels follow the cells by name; a re-run without labels drops the predictions", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    lab <- stats::setNames(d$cell_type, colnames(sce))
    lab[c(1, 10, 20)] <- NA
    in_order <- run_fast(sce, labels = lab, seed = 0)
    shuffled <- run_fast(sce, labels = rev(lab), seed = 0)
    expect_identical(shuffled$sclstm_predicted, in_order$sclstm_predicted)
    expect_identical(shuffled$sclstm_clusters, in_order$sclstm_clusters)
    wrong <- stats::setNames(lab, paste0("x", seq_along(lab)))
    expect_error(run_fast(sce, labels = wrong, seed = 0),
                 "labels is a named vector but its names are not the cells' names")

    expect_message(again <- run_fast(in_order, k = 3, seed = 0), "sclstm: exact kernel for 30 cells")
    expect_identical(metadata(again)$sclstm$mode, "unsupervised")
    expect_false(any(c("sclstm_predicted", "sclstm_predicted_confidence") %in%
                     colnames(colData(again))))
})

test_that("labels that are numbers give predicted levels in number order", {
    d <- load_dataset("blakeley")
    lab <- c(2L, 10L, 1L)[as.integer(factor(d$cell_type))]
    lab[c(1, 10, 20)] <- NA
    res <- run_fast(d$counts, labels = lab, seed = 0)
    expect_identical(levels(res$predicted), c("1", "2", "10")) # not "1", "10", "2"
})

test_that("a transposed matrix: the error about empty cells says how the matrix was read", {
    d <- load_dataset("blakeley")
    # cells x genes instead of genes x cells: the all-zero genes look like empty cells, and
    # drop_empty = TRUE, which the message suggests, would cluster the genes
    err <- tryCatch(runScLSTM(Matrix::t(d$counts), k = 3), error = identity)
    expect_s3_class(err, "sclstm_input_error")
    expect_match(conditionMessage(err),
                 "reads a matrix as genes x cells: here 30 genes in rows, 23794 cells in columns; if the cells are the rows, pass t\\(x\\)")
    expect_false(grepl("\n", conditionMessage(err), fixed = TRUE))
    # an SCE's orientation is fixed: no such hint
    sce <- make_sce(d)
    expect_error(runScLSTM(sce, k = 40), "number of cells \\(30\\); choose k < 30\\.$")
})

test_that("a matrix run says how it read the matrix, so a transposed one that fits is not silent", {
    d <- load_dataset("blakeley")
    # cells x genes, of genes that every cell expresses: no "cell" is empty, so the fit
    # succeeds and clusters the genes; the run's message says which way the matrix was read
    everywhere <- which(Matrix::rowSums(d$counts > 0) == ncol(d$counts))[1:100]
    transposed <- Matrix::t(d$counts[everywhere, ])
    expect_message(res <- run_fast(transposed, k = 3),
                   paste0("^sclstm: exact kernel for 100 cells, estimated peak memory .* GiB ",
                          "\\(beyond the input\\); read as genes x cells: 30 genes in rows, 100 ",
                          "cells in columns \\(if the cells are the rows, pass t\\(x\\)\\)\\s*$"))
    expect_identical(res$details$read_as, "genes x cells: 30 genes in rows, 100 cells in columns")
    expect_length(res$clusters, 100L)
    # the right way round, the same words
    expect_message(right <- run_fast(d$counts, k = 3),
                   "; read as genes x cells: 23794 genes in rows, 30 cells in columns")
    expect_identical(right$details$read_as, "genes x cells: 23794 genes in rows, 30 cells in columns")
    # an object's orientation is fixed: its note says nothing of it
    expect_message(out <- run_fast(make_sce(d), k = 3),
                   "exact kernel for 30 cells, estimated peak memory .* GiB \\(beyond the input\\)\\s*$")
    expect_null(metadata(out)$sclstm$read_as)
})

test_that("verbose = FALSE leaves the run's note out, as Seurat's verbose does, and changes nothing else", {
    d <- load_dataset("blakeley")
    notes <- function(expr) {
        seen <- character(0)
        value <- withCallingHandlers(expr, message = function(m) {
            seen <<- c(seen, conditionMessage(m))
            invokeRestart("muffleMessage")
        })
        list(value = value, notes = seen)
    }
    loud <- notes(run_fast(make_sce(d), k = 3))
    quiet <- notes(run_fast(make_sce(d), k = 3, verbose = FALSE))
    expect_length(loud$notes, 1L)
    expect_length(quiet$notes, 0L) # before: "unknown argument 'verbose'"
    expect_identical(quiet$value$sclstm_clusters, loud$value$sclstm_clusters)
    expect_length(notes(run_fast(d$counts, k = 3, verbose = FALSE))$notes, 0L) # a matrix's too
    expect_error(run_fast(d$counts, k = 3, verbose = NA), "^verbose must be TRUE or FALSE\\.$")
})

test_that("assay.type by index is recorded by name, and a fractional index is refused", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    out <- suppressMessages(run_fast(sce, k = 3, assay.type = 1))
    expect_identical(metadata(out)$sclstm$assay.type, SummarizedExperiment::assayNames(sce)[1])
    expect_error(run_fast(sce, k = 3, assay.type = 1.5), "is not an assay of this SingleCellExperiment")
})

test_that("a run never replaces or deletes a colData column of the user's", {
    d <- load_dataset("biase")
    sce <- make_sce(d)
    # an unsupervised run used to delete the first two, and every run replaced the third
    expect_user_columns_refused(sce, "colData\\(x\\)", k = 4)
    # an earlier run's columns are sclstm's: a re-run replaces or removes them
    lab <- d$cell_type
    lab[seq(3, 56, by = 3)] <- NA
    labelled <- suppressMessages(run_fast(sce, labels = lab, seed = 0))
    expect_identical(metadata(labelled)$sclstm$columns_written,
                     c("sclstm_clusters", "sclstm_predicted", "sclstm_predicted_confidence",
                       "sclstm_labelled"))
    again <- suppressMessages(run_fast(labelled, k = 4, seed = 0))
    expect_false(any(c("sclstm_predicted", "sclstm_predicted_confidence", "sclstm_labelled") %in%
                     colnames(colData(again))))
    expect_identical(metadata(again)$sclstm$columns_written, "sclstm_clusters")
    # a column the user makes after, under a name a run removed, is the user's
    theirs <- again
    theirs$sclstm_predicted <- "mine"
    expect_error(run_fast(theirs, k = 4), "already has the column 'sclstm_predicted'")
    # details written before the record was kept: read as such a run wrote
    earlier <- labelled
    metadata(earlier)$sclstm$columns_written <- NULL
    rerun <- suppressMessages(run_fast(earlier, k = 4, seed = 0))
    expect_false(any(c("sclstm_predicted", "sclstm_labelled") %in% colnames(colData(rerun))))
    expect_identical(rerun$sclstm_clusters, again$sclstm_clusters)
})

test_that("errors name the cells by their names or R's positions, not Python's", {
    d <- load_dataset("biase")
    m <- as.matrix(d$counts)
    # the 5th cell has counts only in a gene too rare to be read (min_cells = 3)
    m[, 5] <- 0
    m[1, ] <- 0
    m[1, 5] <- 10
    expect_identical(colnames(m)[5], "GSM1377863")
    expect_error(run_fast(SingleCellExperiment(list(counts = m)), k = 4),
                 paste0("^1 of 56 cells have no counts in any of the genes expressed in at least 3 ",
                        "cells .*\\(e\\.g\\. GSM1377863\\), so nothing places them; remove them or ",
                        "pass drop_empty = TRUE to leave them out \\(no cluster or type, NA ",
                        "embedding rows\\)\\.$"))
    expect_error(bluster::clusterRows(t(m), ScLSTMParam(k = 4, n_steps = test_steps())),
                 "\\(e\\.g\\. GSM1377863\\), so nothing places them")
    # no names, or names that do not say which cell: R's positions, from 1 (Python's 4)
    expect_error(run_fast(unname(m), k = 4), "\\(e\\.g\\. 5\\), so nothing places them")
    dup <- m
    colnames(dup)[2] <- colnames(dup)[1]
    expect_error(run_fast(dup, k = 4), "\\(e\\.g\\. 5\\), so nothing places them")
    # no cell left at all: the gene filter is what to change (before: "pass drop_empty = TRUE")
    expect_error(run_fast(make_sce(d), k = 4, min_cells = 1000),
                 "none of the 56 cells has counts in the genes expressed in at least 1000 cells.*lower min_cells")
})

test_that("the cells' and genes' names reach Python without changing the result", {
    d <- load_dataset("biase")
    named <- suppressMessages(run_fast(d$counts, k = 4, seed = 0))
    unnamed <- suppressMessages(run_fast(unname(as.matrix(d$counts)), k = 4, seed = 0))
    expect_identical(unname(named$clusters), unname(unnamed$clusters))
    expect_identical(unname(named$embedding), unname(unnamed$embedding))
    expect_identical(names(named$clusters), colnames(d$counts))
})

test_that("argument mistakes are explained in R's terms, for the class given", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    expect_error(runScLSTM(sce, assay_type = "counts"),
                 paste0("^unknown argument 'assay_type'; runScLSTM\\(\\) on a SingleCellExperiment ",
                        "takes k, seed, labels, save.model, assay.type, verbose and the estimator's ",
                        "parameters: .*n_steps"))
    expect_error(runScLSTM(sce, set.ident = TRUE),
                 "^unknown argument 'set.ident' \\(set.ident is for a Seurat object\\); runScLSTM")
    expect_error(runScLSTM(sce, assay = "RNA"),
                 "\\(assay is for a Seurat object; for a SingleCellExperiment, use assay.type =\\)")
    expect_error(runScLSTM(d$counts, assay.type = "counts"),
                 paste0("\\(assay.type is for a SingleCellExperiment\\); runScLSTM\\(\\) on a matrix ",
                        "takes k, seed, labels, save.model, verbose and the estimator's parameters"))
    # R has no mode argument: the labelled mode is labels =
    expect_error(runScLSTM(sce, k = 3, labelled_fraction = 0.5),
                 "^labelled_fraction applies only with labels = ")
    # a whole number, too large for R's integers (Python said "got 10000000000.0")
    expect_error(runScLSTM(sce, k = 3, n_steps = 1e10),
                 paste0("^n_steps = 1e\\+10 is too large: whole-number parameters must be at most ",
                        "\\.Machine\\$integer\\.max \\(2147483647\\)\\.$"))
    # NA, in R's words (Python said "NaN or infinite")
    na <- d$counts
    na[5, 3] <- NA
    na[7, 9] <- NA
    expect_error(runScLSTM(na, k = 3),
                 paste0("^the counts have 2 NA/NaN value\\(s\\) \\(the first in cell '", colnames(na)[3],
                        "'\\); remove or impute them first\\.$"))
    # the first cell named whichever way the cells lie, by position where they have no names
    expect_error(bluster::clusterRows(Matrix::t(na), ScLSTMParam(k = 3)),
                 paste0("\\(the first in cell '", colnames(na)[3], "'\\)"))
    dense <- unname(as.matrix(d$counts))
    dense[5, 3] <- NaN
    dense[1, 4] <- NA
    expect_error(runScLSTM(SingleCellExperiment(list(counts = dense)), k = 3),
                 "^the counts have 2 NA/NaN value\\(s\\) \\(the first in cell 3\\)")
})

test_that("a SummarizedExperiment is refused with the conversion to a SingleCellExperiment", {
    d <- load_dataset("blakeley")
    se <- SummarizedExperiment::SummarizedExperiment(list(counts = d$counts))
    # it used to fail with "no method for coercing this S4 class to a vector"
    expect_error(runScLSTM(se, k = 3),
                 paste0("^runScLSTM\\(\\) needs a SingleCellExperiment, not a SummarizedExperiment, ",
                        "which has no reducedDim\\(\\) for the embedding; convert it first: ",
                        "x <- as\\(x, \"SingleCellExperiment\"\\)\\.$"))
    expect_error(applyScLSTM(se, "model.pt"),
                 "^applyScLSTM\\(\\) needs a SingleCellExperiment, not a SummarizedExperiment")
    # the conversion it gives keeps the counts
    expect_identical(counts(as(se, "SingleCellExperiment")), d$counts)
})

test_that("a reducedDim or a metadata entry of the user's under sclstm's names is refused, not replaced", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    mine <- sce
    reducedDim(mine, "SCLSTM") <- matrix(1, ncol(mine), 3, dimnames = list(colnames(mine), NULL))
    expect_error(run_fast(mine, k = 3), "^reducedDim\\(x, \"SCLSTM\"\\) exists and no sclstm record claims it")
    expect_identical(dim(reducedDim(mine, "SCLSTM")), c(ncol(mine), 3L))
    # a metadata entry of the user's whose name starts with "sclstm" is not taken for
    # sclstm's record (before: metadata(x)$sclstm matched it partially, and the reducedDim
    # was replaced)
    metadata(mine)$sclstm_notes <- list(n_clusters = 3)
    expect_error(run_fast(mine, k = 3), "^reducedDim\\(x, \"SCLSTM\"\\) exists and no sclstm record claims it")
    note <- sce
    metadata(note)$sclstm <- "my note" # before: "subscript out of bounds"
    expect_error(run_fast(note, k = 3), "^metadata\\(x\\)\\$sclstm holds something no sclstm run wrote")
    metadata(note)$sclstm <- list(note = "mine") # before: replaced without a word
    expect_error(run_fast(note, k = 3), "^metadata\\(x\\)\\$sclstm holds something no sclstm run wrote")
    # sclstm's own are replaced by a re-run, as before
    out <- suppressMessages(run_fast(sce, k = 3))
    again <- suppressMessages(run_fast(out, k = 2))
    expect_identical(ncol(reducedDim(again, "SCLSTM")), ncol(reducedDim(out, "SCLSTM")))
    expect_identical(as.integer(metadata(again)$sclstm$n_clusters), 2L)
})

test_that("a re-run on a cbind() of two results leaves one record, its own", {
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    a <- suppressMessages(run_fast(sce, k = 2))
    b <- suppressMessages(run_fast(sce, k = 4))
    # what cbind(a, b) of two results leaves in metadata(): both runs' records (built here
    # directly: cbind() of SingleCellExperiments fails under R CMD check's S4Vectors dispatch)
    both <- a
    metadata(both) <- c(metadata(a), metadata(b))
    expect_identical(sum(names(metadata(both)) == "sclstm"), 2L)
    again <- suppressMessages(run_fast(both, k = 3))
    expect_identical(sum(names(metadata(again)) == "sclstm"), 1L) # before: 2, the second stale
    expect_identical(as.integer(metadata(again)$sclstm$n_clusters), 3L)
})

test_that("drop_empty's NA rows are warned of, with the subset to take before FindNeighbors()", {
    # before (audit helper-56): a silent NA row, which FindNeighbors() made every cell's neighbour
    d <- load_dataset("blakeley")
    sce <- make_sce(d)
    counts(sce)[, 2] <- 0
    expect_warning(out <- suppressMessages(run_fast(sce, k = 3, drop_empty = TRUE)),
                   "^1 cell\\(s\\) without counts .* keep the other cells first: x <- x\\[, which\\(!is.na\\(x\\$sclstm_clusters\\)\\)\\]\\.$")
    expect_true(is.na(out$sclstm_clusters[2]) && all(is.na(reducedDim(out, "SCLSTM")[2, ])))
    expect_equal(ncol(out[, which(!is.na(out$sclstm_clusters))]), ncol(sce) - 1L)
})
