# Test set-up: find Python and the shared data, and build R objects from real datasets.
#
# Environment:
#   SCLSTM_DATA         folder with the *.h5ad datasets (default: shared/data beside the
#                       repository root, found by walking up from the working directory)
#   SCLSTM_TEST_STRICT  "true": a missing Python or data folder fails the tests instead of
#                       skipping them (set by `make test-r`, so CI never skips silently)
#   SCLSTM_TEST_STEPS, SCLSTM_TEST_BATCH  training steps and batch size used in the tests
#                       (default 20 and 64, to keep them fast)

.strict <- function() tolower(Sys.getenv("SCLSTM_TEST_STRICT")) %in% c("1", "true", "yes")

.skip_or_fail <- function(reason) {
    if (.strict()) {
        stop(reason, " (SCLSTM_TEST_STRICT is set, so this is an error, not a skip)",
             call. = FALSE)
    }
    testthat::skip(reason)
}

skip_if_no_sclstm <- function() {
    ok <- sclstm::sclstmAvailable()
    if (!isTRUE(ok)) {
        .skip_or_fail(paste("Python module sclstm not available:", attr(ok, "reason")))
    }
    invisible(TRUE)
}

test_steps <- function() {
    as.integer(Sys.getenv("SCLSTM_TEST_STEPS", "20"))
}

test_batch <- function() {
    as.integer(Sys.getenv("SCLSTM_TEST_BATCH", "64"))
}

# runScLSTM() with few, small training steps: the tests check the plumbing and
# determinism, and the clustering stays good enough to score (see the ARI checks).
run_fast <- function(x, ...) {
    runScLSTM(x, ..., n_steps = test_steps(), batch_size = test_batch())
}

.find_data_dir <- function() {
    env <- Sys.getenv("SCLSTM_DATA")
    if (nzchar(env)) {
        return(normalizePath(env, mustWork = FALSE))
    }
    dir <- normalizePath(getwd())
    repeat {
        if (file.exists(file.path(dir, "pyproject.toml")) &&
            dir.exists(file.path(dir, "r-package"))) {
            return(normalizePath(file.path(dir, "..", "shared", "data"), mustWork = FALSE))
        }
        parent <- dirname(dir)
        if (identical(parent, dir)) {
            return(NA_character_)
        }
        dir <- parent
    }
}

.data_cache <- new.env(parent = emptyenv())

# A dataset from the shared folder as a list: counts (genes × cells dgCMatrix with
# names), cell_type (character, one per cell) and mtx (path of the MatrixMarket file,
# cells × genes, that the Python comparisons read back).
load_dataset <- function(name) {
    skip_if_no_sclstm()
    if (!is.null(.data_cache[[name]])) {
        return(.data_cache[[name]])
    }
    dir <- .find_data_dir()
    path <- file.path(dir, paste0(name, ".h5ad"))
    if (is.na(dir) || !file.exists(path)) {
        .skip_or_fail(paste0("dataset ", name, ".h5ad not found in ", dir,
                             "; set SCLSTM_DATA to the folder holding the shared data"))
    }
    out <- file.path(tempdir(), paste0("sclstm-data-", name))
    dir.create(out, showWarnings = FALSE)
    reticulate::py_run_string(sprintf(paste(
        "import anndata, scipy.io, scipy.sparse, pandas",
        "a = anndata.read_h5ad(%s)",
        "scipy.io.mmwrite(%s, scipy.sparse.csr_matrix(a.X))",
        "pandas.Series(a.obs_names).to_csv(%s, index=False, header=False)",
        "pandas.Series(a.var_names).to_csv(%s, index=False, header=False)",
        paste0("pandas.Series(a.obs['cell_type'].astype(str).to_numpy())",
               ".to_csv(%s, index=False, header=False)"),
        sep = "\n"),
        shQuote(path), shQuote(file.path(out, "X.mtx")), shQuote(file.path(out, "cells.csv")),
        shQuote(file.path(out, "genes.csv")), shQuote(file.path(out, "cell_type.csv"))))
    read_col <- function(f) utils::read.csv(file.path(out, f), header = FALSE,
                                            colClasses = "character")[[1]]
    X <- Matrix::readMM(file.path(out, "X.mtx"))
    counts <- Matrix::t(as(as(X, "CsparseMatrix"), "generalMatrix"))
    counts <- as(counts, "dMatrix")
    dimnames(counts) <- list(read_col("genes.csv"), read_col("cells.csv"))
    d <- list(counts = counts, cell_type = read_col("cell_type.csv"),
              mtx = file.path(out, "X.mtx"))
    .data_cache[[name]] <- d
    d
}

make_sce <- function(d) {
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = d$counts))
    sce$cell_type <- d$cell_type
    sce
}

make_seurat <- function(d) {
    seu <- suppressWarnings(SeuratObject::CreateSeuratObject(counts = d$counts,
                                                             min.cells = 0, min.features = 0))
    seu$cell_type <- d$cell_type
    seu
}

# The Python estimator run directly on the MatrixMarket file (cells × genes) the R
# objects were made from.
python_fit <- function(d, k, seed, ...) {
    sc <- sclstm::sclstmPython()
    scipy_io <- reticulate::import("scipy.io", convert = FALSE)
    X <- scipy_io$mmread(d$mtx)$tocsr()
    est <- sc$ScLSTM(n_clusters = if (is.null(k)) NULL else as.integer(k),
                     random_state = as.integer(seed), ...)
    est$fit(X)
    est
}

py_score <- function(truth, pred) {
    sclstm::sclstmPython()$metrics$score(as.character(truth), as.character(pred))
}

# A run on `x` refuses each column a run writes or removes when the user made it, with the
# error naming it (`where`: "colData\\(x\\)" or "the meta.data of x", as a regex).
expect_user_columns_refused <- function(x, where, k) {
    for (column in c("sclstm_predicted", "sclstm_predicted_confidence", "sclstm_labelled", "sclstm_clusters")) {
        mine <- x
        mine[[column]] <- "mine"
        expect_error(run_fast(mine, k = k),
                     paste0("^", where, " already has the column '", column, "', which ",
                            "runScLSTM\\(\\) would replace or remove and no sclstm run wrote ",
                            "\\(as far as the object.s records say: a merge\\(\\), cbind\\(\\), ",
                            "as.SingleCellExperiment\\(\\) or as.Seurat\\(\\) ",
                            "drops them\\); ",
                            "rename it or remove it first \\(x\\$", column, " <- NULL\\)\\.$"))
    }
}
