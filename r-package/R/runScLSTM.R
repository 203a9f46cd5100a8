#' Detect cell types with sclstm
#'
#' Runs the sclstm method (a siamese LSTM trained on a cell-cell similarity kernel,
#' then hierarchical clustering) on the counts of a
#' \linkS4class{SingleCellExperiment}, a \code{Seurat} object, or a genes × cells
#' matrix, and returns the object with the clusters, the learned embedding and the
#' parameters used. \strong{A matrix is read as genes × cells} (genes in rows, cells in
#' columns): pass \code{t(x)} for one with cells in rows (see Details).
#'
#' A matrix is read as genes × cells: genes in rows, cells in columns, R's
#' convention (as in \code{counts(sce)} and Seurat's assays). Nothing in a matrix says
#' which way round it is, so a cells × genes matrix would have its genes clustered as
#' if they were cells; pass \code{t(x)} for one with cells in rows. No rule on the
#' shape or the names tells the two apart reliably (a dataset may have more cells than
#' genes or fewer; names follow no fixed pattern), so rather than warn on a guess,
#' \code{runScLSTM()} says how it read the matrix: the message it gives on every run
#' (the kernel chosen and the memory it needs; \code{verbose = FALSE} leaves it out)
#' includes, for a matrix,
#' \code{"read as genes x cells: <g> genes in rows, <c> cells in columns"} followed by a
#' hint, and the details record the same, without \code{"read as"} and the hint, as
#' \code{read_as}. An error about the cells (such as columns
#' with no counts) also gives the dimensions the matrix was read with, as a transposed
#' matrix is the usual cause. A SingleCellExperiment or Seurat object has no such
#' ambiguity.
#'
#' \strong{Columns of the user's are never replaced.} A run writes the column
#' \code{sclstm_clusters} (for a Seurat object also \code{<reduction.name>_clusters})
#' and, in labelled mode, \code{sclstm_predicted}, \code{sclstm_predicted_confidence} and
#' \code{sclstm_labelled}; an unsupervised run removes these three, so that an
#' earlier labelled run's predictions are not left beside its clusters. A column by one of
#' these names that no earlier sclstm run (\code{runScLSTM()} or
#' \code{\link{applyScLSTM}}) wrote is the user's: the run refuses it, before the fit, with
#' an error naming it and how to remove it (e.g. \code{x$sclstm_predicted <- NULL}), rather
#' than replace or delete it. Each run records the columns it wrote in its details
#' (\code{columns_written}, see Value), so a re-run on a result replaces the earlier run's
#' columns as before; details written before this record was kept are read by what such a
#' run always wrote (the clusters, and the predictions of a labelled run). A merge() or
#' cbind() of results, and a conversion (\code{as.SingleCellExperiment()},
#' \code{as.Seurat()}), drops these records, so their columns then count as the user's. The
#' same holds for the places of the details (\code{metadata(x)$sclstm},
#' \code{x@misc$sclstm}) and a SingleCellExperiment's \code{reducedDim(x, "SCLSTM")}: one
#' that no sclstm run wrote is refused, not replaced (the embedding of a SingleCellExperiment
#' has that one name, so keep an earlier run's under another name first).
#'
#' \strong{Threads.} The Python side (torch and numpy) uses all the machine's cores. The
#' only control is the environment variable \env{OMP_NUM_THREADS}, read when Python starts:
#' set it before the first sclstm call of the R session, e.g.
#' \code{Sys.setenv(OMP_NUM_THREADS = 1)}; changing it later has no effect until R is
#' restarted. The number of threads changes the trained network (its sums run in another
#' order): the embedding, and sometimes the clusters, differ between 1 and 2 threads. For
#' results that do not depend on the machine's cores, set \env{OMP_NUM_THREADS} to 1
#' (training then takes longer on a machine with several cores).
#'
#' @param x A \linkS4class{SingleCellExperiment}, a \code{Seurat} object, or a
#'   \strong{genes × cells} count matrix (base \code{matrix} or any sparse
#'   \pkg{Matrix}, e.g. a \code{dgCMatrix}; use \code{t(x)} for cells in rows). Counts
#'   are raw (or non-negative expression such as FPKM; \code{NA} is an error); sparse
#'   counts are passed to Python as sparse, never densified. A plain
#'   \code{SummarizedExperiment} is refused (it has no \code{reducedDim()} for the
#'   embedding): convert it first with \code{as(x, "SingleCellExperiment")}, which keeps
#'   its assays and \code{colData}. Errors about particular cells (such as cells with no
#'   counts in the genes the fit reads) name them by their column names (row names for
#'   \code{\link{ScLSTMParam}}), or by their positions (counting from 1) where these are
#'   missing or not unique.
#' @param k Number of cell types, or \code{NULL} (default) to estimate it; the
#'   estimate and its curve are kept in the details.
#' @param seed Random seed (a non-negative whole number; default 0). The same counts,
#'   \code{k} and \code{seed} give the same clusters, from R or from Python, at the same
#'   number of threads (see Details). The fit uses
#'   this seed only: R's \code{set.seed()} has no effect on it (nor does the run change
#'   R's random numbers). To see how stable a result is, run again with other values of
#'   \code{seed =}.
#' @param labels \code{NULL} (unsupervised, default) or, for the labelled mode, the
#'   name of a \code{colData} (SingleCellExperiment) or \code{meta.data} (Seurat)
#'   column holding known cell types, \code{NA} (or an empty or blank string, or the
#'   text \code{"NA"}, \code{"nan"}, \code{"<NA>"}, \code{"None"} or \code{"null"} in
#'   any case, with a warning) for the cells to predict. A vector with
#'   one label per cell is accepted too (the only form for matrices).
#' @param ... Further arguments passed to the Python estimator
#'   \code{sclstm.ScLSTM}, by name (for example \code{n_steps = 200}), each a single
#'   value (a number, a string, \code{TRUE} or \code{FALSE}; \code{NULL} only where
#'   it is the parameter's default, as for \code{labelled_fraction}). They are checked
#'   before any work: a name the estimator does not have (the error lists those it
#'   has), an unnamed argument, or a value that is \code{NULL}, \code{NA} or a vector
#'   of several is an error (so is a whole number beyond \code{.Machine$integer.max},
#'   such as \code{n_steps = 1e10}); the error for an unknown name lists, besides the
#'   estimator's parameters, the arguments of the method for the class of \code{x} (and
#'   says which class an argument such as \code{set.ident} or \code{assay.type} is for).
#'   \code{labelled_fraction} applies only with \code{labels =}.
#'   \code{drop_empty = TRUE} drops all-zero cells instead of stopping: they get
#'   \code{NA} clusters and \code{NA} embedding rows (in a Seurat object also
#'   \code{NA} Idents when \code{set.ident = TRUE}); a warning says how many, as
#'   \code{FindNeighbors()}, \code{RunUMAP()} and bluster read \code{NA} rows wrongly or
#'   refuse them: keep the other cells first (\code{x[, which(!is.na(x$sclstm_clusters))]}).
#'   \code{save.model = "model.pt"}
#'   also saves the fitted model to that file (the path is checked before the fit, and
#'   kept in the details as \code{model_file}), for \code{\link{applyScLSTM}} on new
#'   cells; the model records the genes' names (the row names), so they must be unique
#'   (duplicated names are an error before the fit). Counts without row names give a
#'   model without gene names, which \code{applyScLSTM()} can only match to new counts
#'   by position: a warning says so. \code{kernel = "landmark"} (or \code{"exact"},
#'   \code{"auto"}, the default: exact up to 10,000 cells, landmark above, by the number
#'   of cells alone) chooses the path; the details record the choice
#'   (\code{kernel_choice}) and the estimated peak memory beyond the input
#'   (\code{memory_estimate_gib}), and an estimate above the machine's free memory warns
#'   before the fit, which goes on.
#' @param verbose Give the run's note (the kernel chosen, the memory it needs and, for a
#'   matrix, how it was read) as a message? Default \code{TRUE}; \code{FALSE} leaves it
#'   out, as Seurat's \code{verbose = FALSE} does. Warnings and errors are given either way.
#' @param assay.type For a SingleCellExperiment: the assay holding the counts, by name
#'   or by index (a whole number); the metadata records it by name.
#' @param assay For a Seurat object: the assay whose \code{counts} are used;
#'   default the object's default assay, except after \code{SCTransform()}: its
#'   \code{"SCT"} assay holds corrected counts, so the raw counts of the assay it was
#'   made from (\code{"RNA"}, \code{"Spatial"}) are read instead, where they are there,
#'   with a message (pass \code{assay = "SCT"} for the corrected ones). An
#'   assay without counts (only normalised \code{data}, as an integrated assay has) is
#'   an error naming the assays that have them; with SeuratObject 5, counts split into
#'   layers (one per sample) are an error asking for \code{JoinLayers()} first.
#' @param set.ident For a Seurat object: set \code{Idents(x)} to the clusters?
#' @param reduction.name,reduction.key For a Seurat object: name and key of the
#'   \code{DimReduc} added. The name may be that of an earlier run's reduction, which
#'   is replaced, but not of a meta.data column, an assay, or a reduction made by
#'   something else (such as \code{"pca"}), nor one whose clusters column
#'   (\code{<reduction.name>_clusters}) would replace a meta.data column that an
#'   earlier \code{runScLSTM()} under that name did not write (its DimReduc's
#'   \code{misc$clusters_column} records the column it wrote); the key is a letter, then
#'   letters and digits, then an underscore, as Seurat requires, and not the key of another
#'   reduction or assay of the object (Seurat would change it). All are checked before
#'   the fit.
#'
#' @return
#' \describe{
#'   \item{SingleCellExperiment}{\code{x} with \code{colData(x)$sclstm_clusters}
#'     (a factor with levels \code{"0"}, \code{"1"}, ..., cluster 0 the largest),
#'     \code{reducedDim(x, "SCLSTM")} (cells × dimensions, rows named and ordered as
#'     the cells) and \code{metadata(x)$sclstm} (mode, number of clusters, how it was
#'     chosen and the curve used to estimate it, training history, parameters, seed,
#'     versions; and \code{columns_written}, the colData columns the run wrote). In
#'     labelled mode also \code{colData(x)$sclstm_predicted} (every cell's predicted
#'     type, a factor with the label classes as levels, in the order of the labels' own
#'     levels when they are a factor, else in the order \code{factor()} gives; levels of a
#'     labels factor that no cell has are dropped, as the model learns only the classes it
#'     sees, whereas \code{\link{applyScLSTM}} gives all the model's classes as levels,
#'     predicted or not), \code{colData(x)$sclstm_predicted_confidence} (its
#'     probability) and \code{colData(x)$sclstm_labelled} (\code{TRUE} for the cells whose
#'     labels the fit used: an honest accuracy scores only the others, as \code{sclstm
#'     score} does on the object saved as \code{.rds}).}
#'   \item{Seurat}{\code{x} with the clusters in the meta.data column
#'     \code{sclstm_clusters} (the latest run) and in
#'     \code{<reduction.name>_clusters} (the same column for the default name; a run
#'     under another name keeps its own, as \code{FindClusters} keeps one column per
#'     resolution). So a run under another name replaces the default-name run's clusters,
#'     with a warning: copy them first to keep both
#'     (\code{x$sclstm_first <- x$sclstm_clusters}). In labelled mode also \code{sclstm_predicted},
#'     \code{sclstm_predicted_confidence} and \code{sclstm_labelled} (the latest run's), as for a
#'     SingleCellExperiment. A \code{DimReduc} named \code{reduction.name}
#'     (\code{"sclstm"}) with key \code{reduction.key} (\code{"SCLSTM_"}), the latest
#'     run's details in \code{Misc(x, "sclstm")}, with the meta.data columns it wrote as
#'     \code{columns_written} (and each run's in its DimReduc's
#'     \code{misc} slot, with the clusters column it wrote as \code{clusters_column}),
#'     \code{Idents} set when \code{set.ident = TRUE},
#'     and the command logged in \code{x@commands} as Seurat logs its own, as
#'     \code{runScLSTM.<assay>} (\code{runScLSTM.<assay>.<reduction.name>} for a
#'     \code{reduction.name} other than \code{"sclstm"}, so that each run keeps its entry).}
#'   \item{matrix}{a list with \code{clusters} (factor named by cell),
#'     \code{embedding} (cells × dimensions) and \code{details} (as in
#'     \code{metadata(x)$sclstm}, with \code{read_as}: how the matrix was read, e.g.
#'     \code{"genes x cells: 200 genes in rows, 60 cells in columns"}); in labelled mode
#'     also \code{predicted}, \code{predicted_confidence} and \code{labelled} (\code{TRUE}
#'     for the cells whose labels the fit used), each named by cell.}
#' }
#'
#' @section Python:
#' The work is done by the Python package \code{sclstm}; see
#' \code{\link{sclstmPython}} for how the Python interpreter is found and what to
#' install when it is missing. Problems with the input (for instance \code{k} larger
#' than the number of cells) are reported as one-line R errors, and Python's warnings
#' (for instance counts that look log-transformed) as R warnings.
#'
#' @examples
#' if (sclstmAvailable()) {
#'     set.seed(1)
#'     counts <- matrix(rpois(60 * 200, 2), nrow = 200,
#'                      dimnames = list(paste0("g", 1:200), paste0("c", 1:60)))
#'     counts[1:40, 1:30] <- counts[1:40, 1:30] + rpois(40 * 30, 10)
#'     res <- runScLSTM(counts, k = 2, n_steps = 20)
#'     table(res$clusters)
#' }
#' @seealso \code{\link{ScLSTMParam}} for \code{bluster::clusterRows()};
#'   \code{\link{applyScLSTM}} for a saved model on new cells.
#' @export
setGeneric("runScLSTM", function(x, ...) standardGeneric("runScLSTM"))

# The labelled mode's columns, and the element of .run_core()'s result each holds.
.PREDICTION_COLUMNS <- c("sclstm_predicted", "sclstm_predicted_confidence")
.result_of <- function(column) sub("^sclstm_", "", column)

# The colData / meta.data columns a run writes or removes: its clusters and, written in
# labelled mode and removed otherwise, the predictions (applyScLSTM(): the predictions only).
.LABELLED_COLUMN <- "sclstm_labelled"
.RUN_COLUMNS <- c("sclstm_clusters", .PREDICTION_COLUMNS, .LABELLED_COLUMN)

# Where a call's details (metadata(x)$sclstm and $sclstm_apply of a SingleCellExperiment;
# Misc(x, "sclstm") and Misc(x, "sclstm_apply") of a Seurat object) record the columns it
# wrote: columns sclstm wrote, which a later call may replace or remove.
.COLUMNS_WRITTEN <- "columns_written"

# Is `details` a record sclstm wrote (a run's or applyScLSTM()'s details)? Such records are
# lists carrying the package version, the fitted k or the model's mode.
.is_sclstm_record <- function(details) {
    is.list(details) && any(c("r_package_version", "n_clusters", "model_mode") %in% names(details))
}

# Checked before the fit: what sits under the names sclstm writes its details to (`records`,
# a named list: metadata(x) or x@misc) must be sclstm's own, not replaced or misread.
# `where` shows how to reach them, e.g. "metadata(x)".
.check_own_records <- function(records, where, caller) {
    for (name in c("sclstm", "sclstm_apply")) {
        if (!is.null(records[[name]]) && !.is_sclstm_record(records[[name]])) {
            stop(where, "$", name, " holds something no sclstm run wrote; ", caller, " writes its ",
                 "details there: rename it or remove it first (", where, "$", name, " <- NULL).",
                 call. = FALSE)
        }
    }
    invisible()
}

# The columns the call whose details these are wrote. Details without the record (written
# before this package kept one) are read by what such a call always wrote: a run (its
# details have n_clusters) its clusters, and a labelled run or model the predictions.
.columns_written <- function(details) {
    if (is.null(details)) {
        return(character(0))
    }
    if (!is.null(details[[.COLUMNS_WRITTEN]])) {
        return(as.character(unlist(details[[.COLUMNS_WRITTEN]])))
    }
    labelled <- identical(details$mode, "labelled") || identical(details$model_mode, "labelled")
    # (Python's `sclstm apply` with a labelled model writes sclstm_labelled too)
    c(if (!is.null(details$n_clusters)) "sclstm_clusters", if (labelled) .PREDICTION_COLUMNS,
      if (labelled) .LABELLED_COLUMN)
}

# Details whose record no longer lists the columns a later call removed (so that a column of
# the user's by the same name, made after, is not taken for sclstm's); NULL stays NULL.
.forget_columns <- function(details, removed) {
    if (is.null(details) || !length(removed)) {
        return(details)
    }
    details[[.COLUMNS_WRITTEN]] <- setdiff(.columns_written(details), removed)
    details
}

# Checked before the fit: of the `columns` a call writes or removes, those `present` in `where`
# (the table of x) must have been written by sclstm (`written`: .columns_written() of the
# object's records); a column of the user's is never replaced or deleted.
.check_own_columns <- function(present, columns, written, where, caller) {
    theirs <- setdiff(intersect(columns, present), written)
    if (length(theirs)) {
        several <- length(theirs) > 1L
        stop(where, " already has the column", if (several) "s", " ",
             paste0("'", theirs, "'", collapse = ", "), ", which ", caller, " would replace ",
             "or remove and no sclstm run wrote (as far as the object's records say: a merge(), ",
             "cbind(), as.SingleCellExperiment() or as.Seurat() drops them); rename ", if (several) "them" else "it",
             " or remove ", if (several) "them" else "it", " first (",
             paste0("x$", theirs, " <- NULL", collapse = "; "), ").", call. = FALSE)
    }
    invisible()
}

# Of the prediction columns `present` before a call, those it removed (it wrote `written`).
.removed_columns <- function(present, written) {
    setdiff(intersect(.PREDICTION_COLUMNS, present), written)
}

# The columns a call writes: a run's clusters (`clusters`: its column or columns) and, when it
# predicted types, the prediction columns.
.written_columns <- function(res, clusters = NULL) {
    unique(c(clusters, if (!is.null(res$predicted)) .PREDICTION_COLUMNS,
             if (!is.null(res$labelled)) .LABELLED_COLUMN))
}

# A SummarizedExperiment that is not a SingleCellExperiment has no reducedDims for the
# embedding: refused with the conversion, before its assay is read as a matrix (which fails).
.refuse_summarized_experiment <- function(x, caller) {
    if (is(x, "SummarizedExperiment") && !is(x, "SingleCellExperiment")) {
        stop(caller, " needs a SingleCellExperiment, not a ", class(x)[1], ", which has no ",
             "reducedDim() for the embedding; convert it first: ",
             "x <- as(x, \"SingleCellExperiment\").", call. = FALSE)
    }
    invisible()
}

# colData/meta.data column (or a per-cell vector) to labels.
.resolve_labels <- function(labels, table, n_cells, where) {
    if (is.null(labels)) {
        return(NULL)
    }
    if (is.character(labels) && length(labels) == 1L && n_cells != 1L) {
        if (!labels %in% colnames(table)) {
            stop("labels = '", labels, "' is not a column of ", where, "; its columns are: ",
                 if (ncol(table)) paste(colnames(table), collapse = ", ") else "(none)",
                 ".", call. = FALSE)
        }
        return(table[[labels]])
    }
    if (length(labels) != n_cells) {
        stop("labels must name a column of ", where, " or give one label per cell (",
             n_cells, "), got a vector of length ", length(labels), ".", call. = FALSE)
    }
    labels
}

#' @rdname runScLSTM
#' @export
setMethod("runScLSTM", "ANY", function(x, k = NULL, seed = 0, labels = NULL, ..., verbose = TRUE) {
    .refuse_summarized_experiment(x, "runScLSTM()")
    if (is.null(dim(x)) || length(dim(x)) != 2L) {
        stop("runScLSTM() needs a SingleCellExperiment, a Seurat object or a genes x ",
             "cells matrix, got an object of class '", class(x)[1], "'.", call. = FALSE)
    }
    .check_estimator_arguments(list(...), "runScLSTM()", object = "matrix")
    # nothing in a matrix says which way round it is, and no rule on its shape or names
    # tells reliably: the run's message and details say how it was read
    read_as <- sprintf("genes x cells: %d genes in rows, %d cells in columns", nrow(x), ncol(x))
    res <- .with_orientation_hint(
        .run_core(x, k = k, seed = seed, labels = labels, ..., verbose = verbose),
        paste0("runScLSTM() reads a matrix as ", sub(": ", ": here ", read_as),
               "; if the cells are the rows, pass t(x)"),
        read_as = paste0(read_as, " (if the cells are the rows, pass t(x))")
    )
    res$details$read_as <- read_as
    .warn_na_rows(sum(is.na(res$clusters)), " (those whose clusters are not NA)")
    res
})

#' @rdname runScLSTM
#' @importFrom SummarizedExperiment assay assayNames colData colData<-
#' @importFrom SingleCellExperiment reducedDim<-
#' @importClassesFrom SingleCellExperiment SingleCellExperiment
#' @importFrom S4Vectors metadata metadata<-
#' @export
setMethod("runScLSTM", "SingleCellExperiment",
          function(x, k = NULL, seed = 0, labels = NULL, ..., verbose = TRUE, assay.type = "counts") {
    assay_name <- .sce_assay_type(x, assay.type)
    labels <- .resolve_labels(labels, colData(x), ncol(x), "colData(x)")
    .check_estimator_arguments(list(...), "runScLSTM()", object = "SingleCellExperiment")
    present <- colnames(colData(x))
    .check_sce_own(x, "runScLSTM()")
    .check_own_columns(present, .RUN_COLUMNS, .sce_columns_written(x), "colData(x)",
                       "runScLSTM()")
    res <- .run_core(assay(x, assay.type, withDimnames = TRUE), k = k, seed = seed,
                     labels = labels, ..., verbose = verbose)
    res$details$assay.type <- assay_name
    .warn_na_rows(sum(is.na(res$clusters)), ": x <- x[, which(!is.na(x$sclstm_clusters))]")
    x <- .store_in_sce(x, res, "sclstm", .written_columns(res, "sclstm_clusters"), present)
    colData(x)[[.LABELLED_COLUMN]] <- if (!is.null(res$labelled)) unname(res$labelled)
    x
})

# Checked before the fit: the details' places in metadata(x), and reducedDim "SCLSTM", hold
# sclstm's own (the reducedDim is sclstm's where one of its records is there: every run and
# applyScLSTM() writes both); the user's are refused, not replaced.
.check_sce_own <- function(x, caller) {
    .check_own_records(metadata(x), "metadata(x)", caller)
    if ("SCLSTM" %in% SingleCellExperiment::reducedDimNames(x) &&
        is.null(metadata(x)[["sclstm"]]) && is.null(metadata(x)[["sclstm_apply"]])) {
        stop("reducedDim(x, \"SCLSTM\") exists and no sclstm record claims it (no metadata(x)$sclstm; ",
             "as.SingleCellExperiment() of a Seurat result drops its record); ",
             caller, " writes its embedding there: rename it or remove it first ",
             "(reducedDim(x, \"SCLSTM\") <- NULL).", call. = FALSE)
    }
    invisible()
}

# The columns of a SingleCellExperiment that sclstm wrote, as its runs' details record them.
.sce_columns_written <- function(x) {
    c(.columns_written(metadata(x)[["sclstm"]]), .columns_written(metadata(x)[["sclstm_apply"]]))
}

# Results into a SingleCellExperiment (runScLSTM(), `record` "sclstm", and applyScLSTM(),
# "sclstm_apply"): the clusters when there are some; the labelled mode's columns, removed when
# there are none (an unsupervised re-run must not leave an earlier labelled run's predictions
# behind; .check_own_columns() made sure they are sclstm's); the embedding; the details in
# metadata(x)[[record]], with the columns written, and the other record forgetting the
# columns removed. `present`: the columns before the call.
.store_in_sce <- function(x, res, record, written, present) {
    if (!is.null(res$clusters)) {
        colData(x)$sclstm_clusters <- unname(res$clusters)
    }
    for (column in .PREDICTION_COLUMNS) {
        colData(x)[[column]] <- if (!is.null(res$predicted)) unname(res[[.result_of(column)]])
    }
    reducedDim(x, "SCLSTM") <- res$embedding
    res$details[[.COLUMNS_WRITTEN]] <- written
    # every entry by this name goes: cbind() of two results keeps both runs' (before, the
    # second survived the re-run, describing cells and clusters that are no longer there)
    md <- metadata(x)
    metadata(x) <- c(md[names(md) != record | is.na(names(md))], stats::setNames(list(res$details), record))
    other <- setdiff(c("sclstm", "sclstm_apply"), record)
    if (!is.null(metadata(x)[[other]])) {
        # it forgets the columns this call removed, and those it wrote, which are now this call's
        metadata(x)[[other]] <- .forget_columns(metadata(x)[[other]],
                                                union(.removed_columns(present, written), written))
    }
    x
}

#' @rdname runScLSTM
#' @importClassesFrom SeuratObject Seurat SeuratCommand
#' @importFrom SeuratObject Assays DefaultAssay GetAssayData CreateDimReducObject
#'   Idents<- Key Misc Reductions
#' @export
setMethod("runScLSTM", "Seurat",
          function(x, k = NULL, seed = 0, labels = NULL, ..., verbose = TRUE, assay = NULL,
                   set.ident = FALSE, reduction.name = "sclstm",
                   reduction.key = "SCLSTM_") {
    assay <- .seurat_assay(x, assay, verbose)
    .check_reduction(x, reduction.name, reduction.key)
    .check_clusters_column(x, reduction.name)
    .check_estimator_arguments(list(...), "runScLSTM()", object = "Seurat object")
    .check_own_records(x@misc, "x@misc", "runScLSTM()")
    .check_own_columns(colnames(x[[]]), .RUN_COLUMNS, .seurat_columns_written(x),
                       "the meta.data of x", "runScLSTM()")
    counts <- .seurat_assay_counts(x, assay, "runScLSTM()")
    labels_arg <- labels
    labels <- .resolve_labels(labels, x[[]], ncol(x), "the meta.data")
    res <- .run_core(counts, k = k, seed = seed, labels = labels, ..., verbose = verbose)
    res$details$assay <- assay
    .warn_na_rows(sum(is.na(res$clusters)), ": x <- x[, which(!is.na(x$sclstm_clusters))]")
    # as FindClusters keeps seurat_clusters and one column per resolution: the latest run in
    # sclstm_clusters, and each reduction.name's run in its own column
    present <- colnames(x[[]])
    x <- .release_default_clusters(x, reduction.name)
    x[["sclstm_clusters"]] <- res$clusters[colnames(x)]
    x[[.clusters_column(reduction.name)]] <- res$clusters[colnames(x)]
    x <- .store_in_seurat(x, res, assay, reduction.name, reduction.key, "sclstm",
                          clusters.column = .clusters_column(reduction.name),
                          written = .written_columns(res, c("sclstm_clusters",
                                                            .clusters_column(reduction.name))),
                          present = present)
    if (!is.null(res$labelled)) {
        x[[.LABELLED_COLUMN]] <- res$labelled[colnames(x)]
    } else if (.LABELLED_COLUMN %in% colnames(x[[]])) {
        x[[.LABELLED_COLUMN]] <- NULL
    }
    if (isTRUE(set.ident)) {
        Idents(x) <- "sclstm_clusters"
    }
    labels_logged <- if (is.character(labels_arg) && length(labels_arg) == 1L) {
        labels_arg
    } else if (!is.null(labels_arg)) {
        "(one label per cell)"
    }
    params <- c(list(k = k, seed = seed, labels = labels_logged, assay = assay,
                     set.ident = set.ident, reduction.name = reduction.name,
                     reduction.key = reduction.key, verbose = verbose),
                list(...))
    .log_seurat_command(x, assay, reduction.name, params)
})

# The assay of a SingleCellExperiment to read, by name or by index (a whole number within
# the assays), as assay() takes it; an error naming the assays otherwise. Returns the
# assay's name, so that the metadata says which assay was read whatever index was given
# (the index itself for an unnamed assay).
.sce_assay_type <- function(x, assay.type) {
    assays <- assayNames(x)
    n_assays <- length(SummarizedExperiment::assays(x))
    by_name <- is.character(assay.type) && length(assay.type) == 1L && !is.na(assay.type) &&
        assay.type %in% assays
    by_index <- is.numeric(assay.type) && length(assay.type) == 1L && !is.na(assay.type) &&
        assay.type == round(assay.type) && assay.type >= 1 && assay.type <= n_assays
    if (!(by_name || by_index)) {
        stop("assay.type = '", paste(assay.type, collapse = ", "), "' is not an assay of ",
             "this SingleCellExperiment; give the name or index of one of its assays: ",
             if (length(assays) && any(nzchar(assays))) {
                 paste(assays, collapse = ", ")
             } else if (n_assays) {
                 paste0("(", n_assays, " unnamed; give an index)")
             } else {
                 "(none)"
             }, ".", call. = FALSE)
    }
    if (by_index && length(assays) >= assay.type && nzchar(assays[assay.type])) {
        return(assays[assay.type])
    }
    assay.type
}

.has_counts <- function(counts, x) {
    length(counts) > 0L && ncol(counts) == ncol(x)
}

# The Seurat assay to read: `assay`, or the object's default assay; an error naming the
# assays when it is not one of them.
.seurat_assay <- function(x, assay, verbose = TRUE) {
    if (is.null(assay) && inherits(x[[DefaultAssay(x)]], "SCTAssay")) {
        assay <- .sct_counts_assay(x, verbose)
    }
    assay <- if (is.null(assay)) DefaultAssay(x) else assay
    if (!(is.character(assay) && length(assay) == 1L && assay %in% Assays(x))) {
        stop("assay = '", paste(assay, collapse = ", "), "' is not an assay of this ",
             "Seurat object; its assays are: ", paste(Assays(x), collapse = ", "), ".",
             call. = FALSE)
    }
    assay
}

# The counts of a Seurat assay; an assay without counts (only normalised data, as an
# integrated assay has) is an error naming the assays that have them.
.seurat_assay_counts <- function(x, assay, caller) {
    counts <- .seurat_counts(x, assay)
    if (!.has_counts(counts, x)) {
        with_counts <- Filter(function(a) .has_counts(.seurat_counts(x, a), x), Assays(x))
        stop("the assay '", assay, "' of this Seurat object has no counts; ", caller,
             " needs raw counts, not normalised data",
             if (length(with_counts)) {
                 paste0("; pass assay = \"", with_counts[1], "\" (assays with counts: ",
                        paste(with_counts, collapse = ", "), ")")
             } else {
                 " (no assay of this object has counts)"
             }, ".", call. = FALSE)
    }
    counts
}

# Results into a Seurat object: the labelled mode's meta.data columns (removed when
# there are none, so that an earlier labelled run's predictions are not left behind;
# .check_own_columns() made sure they are sclstm's), the columns written (`written`; `present`:
# the columns before the call) recorded in the details,
# the DimReduc (misc$sclstm marks it as sclstm's, so a re-run may replace it;
# misc$clusters_column names the meta.data column of clusters sclstm wrote for it, which
# a later run under the name may replace) and the details in x@misc[[misc.name]]
# (Misc(x, misc.name) reads them; set through the slot because Misc<- warns on every
# re-run).
.store_in_seurat <- function(x, res, assay, reduction.name, reduction.key, misc.name,
                             clusters.column = NULL, written = character(0),
                             present = colnames(x[[]])) {
    # the columns written, in the details; the other record forgets those removed
    res$details[[.COLUMNS_WRITTEN]] <- written
    other <- setdiff(c("sclstm", "sclstm_apply"), misc.name)
    if (!is.null(x@misc[[other]])) {
        x@misc[[other]] <- .forget_columns(x@misc[[other]], union(.removed_columns(present, written), written))
    }
    for (column in .PREDICTION_COLUMNS) {
        if (!is.null(res$predicted)) {
            x[[column]] <- res[[.result_of(column)]][colnames(x)]
        } else if (column %in% colnames(x[[]])) {
            x[[column]] <- NULL
        }
    }
    x[[reduction.name]] <- CreateDimReducObject(
        embeddings = res$embedding, key = reduction.key, assay = assay,
        misc = c(list(sclstm = res$details),
                 if (!is.null(clusters.column)) list(clusters_column = clusters.column))
    )
    x@misc[[misc.name]] <- res$details
    x
}

# Checked before the fit. The DimReduc must not hide or replace something else of the
# object: under the name of a meta.data column it cannot be read back (x[[name]] gives
# the column), an assay's name is refused by Seurat, and a reduction not made by
# runScLSTM() (such as "pca") is the user's. The key must follow Seurat's rule and not be
# the key of another of the object's reductions or assays: Seurat would change it (with a
# warning, after the fit), and the user would not get the key they asked for.
.check_reduction <- function(x, name, key) {
    if (!(is.character(name) && length(name) == 1L && !is.na(name) && nzchar(name))) {
        stop("reduction.name must be a single non-empty string, got ",
             paste(deparse(name), collapse = " "), ".", call. = FALSE)
    }
    if (name %in% c(colnames(x[[]]), .RUN_COLUMNS)) {
        stop("reduction.name = '", name, "' is a meta.data column of this Seurat object ",
             "(or one runScLSTM() writes); choose another name.", call. = FALSE)
    }
    if (name %in% setdiff(names(x), Reductions(x))) {
        stop("reduction.name = '", name, "' is already the name of an assay or graph of ",
             "this Seurat object; choose another name.", call. = FALSE)
    }
    if (name %in% Reductions(x) && is.null(Misc(x[[name]])[["sclstm"]])) {
        stop("reduction.name = '", name, "' is an existing reduction not made by ",
             "runScLSTM() (key ", Key(x[[name]]), "); choose another name, or remove it ",
             "first with x[[\"", name, "\"]] <- NULL.", call. = FALSE)
    }
    if (!(is.character(key) && length(key) == 1L && !is.na(key) &&
          grepl("^[a-zA-Z][a-zA-Z0-9]*_$", key))) {
        stop("reduction.key must be a letter, then letters and digits, then an underscore, as ",
             "Seurat requires (e.g. \"SCLSTM_\"), got ", paste(deparse(key), collapse = " "), ".",
             call. = FALSE)
    }
    keys <- Key(x) # named by object: assays, reductions (and images)
    holders <- setdiff(names(keys)[!is.na(keys) & keys == key], name)
    if (length(holders)) {
        holder <- holders[1]
        kind <- if (holder %in% Reductions(x)) "reduction" else if (holder %in% Assays(x))
            "assay" else "object"
        converted <- if (kind == "reduction" && identical(holder, "SCLSTM")) {
            paste0(" (as.Seurat() of a SingleCellExperiment result makes it; if it is an earlier ",
                   "run's embedding, remove it: x[[\"SCLSTM\"]] <- NULL)")
        } else ""
        stop("reduction.key = '", key, "' is already the key of the ", kind, " '", holder,
             "' of this Seurat object, and Seurat would replace a duplicated key; choose ",
             "another key", converted, ".", call. = FALSE)
    }
    invisible()
}

# A run under another reduction.name replaces sclstm_clusters (the latest run's), which is
# also the own column of the run under the default name "sclstm": said in a warning, and that
# run's DimReduc stops recording the column as its clusters (before: silently, and its misc
# still named a column holding another run's clusters).
.release_default_clusters <- function(x, reduction.name) {
    if (reduction.name == "sclstm" ||
        !identical(.recorded_clusters_column(x, "sclstm"), "sclstm_clusters") ||
        !"sclstm_clusters" %in% colnames(x[[]])) {
        return(x)
    }
    warning("sclstm_clusters held the clusters of the run in the DimReduc 'sclstm' and now holds ",
            "this run's (reduction.name = '", reduction.name, "'), as it holds the latest run's; ",
            "to keep both, copy them before such a run (x$sclstm_first <- x$sclstm_clusters).",
            call. = FALSE)
    reduction <- x[["sclstm"]]
    reduction@misc$clusters_column <- NULL
    x[["sclstm"]] <- reduction
    x
}

# The meta.data column holding the clusters of the run stored under reduction.name
# ("sclstm_clusters" for the default name).
.clusters_column <- function(reduction.name) paste0(reduction.name, "_clusters")

# The clusters column that sclstm wrote for the reduction `name`, as its DimReduc records
# it (NULL when there is no such reduction or it records none: one made by applyScLSTM()
# alone, or by something else).
.recorded_clusters_column <- function(x, name) {
    if (!name %in% Reductions(x)) {
        return(NULL)
    }
    misc <- Misc(x[[name]])
    if (is.null(misc[["sclstm"]])) NULL else misc[["clusters_column"]]
}

# The meta.data columns of a Seurat object that sclstm wrote: as the latest run's and
# applyScLSTM()'s details record them, and each run's clusters column, as its DimReduc
# records it.
.seurat_columns_written <- function(x) {
    by_reduction <- unlist(lapply(Reductions(x), function(name) {
        .recorded_clusters_column(x, name)
    }))
    unique(c(.columns_written(x@misc[["sclstm"]]), .columns_written(x@misc[["sclstm_apply"]]),
             by_reduction))
}

# Checked before the fit: the run's own clusters column may replace the one an earlier run
# wrote under the same reduction.name (as its DimReduc records), never a column of the user's.
.check_clusters_column <- function(x, name) {
    column <- .clusters_column(name)
    ours <- identical(.recorded_clusters_column(x, name), column)
    if (column != "sclstm_clusters" && column %in% colnames(x[[]]) && !ours) {
        stop("reduction.name = '", name, "' would store its clusters in the meta.data column '",
             column, "', which this Seurat object already has and no earlier runScLSTM() ",
             "under that name wrote; choose another name, or remove the column first with ",
             "x[[\"", column, "\"]] <- NULL.", call. = FALSE)
    }
    invisible()
}

# After SCTransform() the default assay (an SCTAssay) holds corrected counts; sclstm wants the
# raw ones, in the assay SCTransform() read (its models' umi.assay: "RNA", "Spatial", ...).
# That assay where it has counts for every cell, else the SCT assay itself; a message either way.
.sct_counts_assay <- function(x, verbose) {
    sct <- DefaultAssay(x)
    models <- tryCatch(methods::slot(x[[sct]], "SCTModel.list"), error = function(e) list())
    source <- unique(unlist(lapply(models, function(m)
        tryCatch(methods::slot(m, "umi.assay"), error = function(e) NULL))))
    source <- if (length(source) == 1L) source else "RNA"
    raw <- source %in% Assays(x) && .has_counts(.seurat_counts(x, source), x)
    if (verbose) {
        message(if (raw) {
            sprintf(paste0("The default assay '%s' holds counts SCTransform() corrected; reading the raw ",
                           "counts of assay '%s' (pass assay = \"%s\" for the corrected ones)."), sct, source, sct)
        } else {
            sprintf(paste0("The default assay '%s' holds counts SCTransform() corrected, and assay '%s' has no ",
                           "raw counts; reading the corrected ones."), sct, source)
        })
    }
    if (raw) source else sct
}

# Counts of a Seurat assay (SeuratObject 4: slot; SeuratObject 5: layer). SeuratObject 5
# keeps one counts layer per sample after split(); reading one of them would drop cells.
.seurat_counts <- function(x, assay) {
    if (utils::packageVersion("SeuratObject") >= "5.0.0") {
        layers <- tryCatch(getExportedValue("SeuratObject", "Layers")(x[[assay]], search = "counts"),
                           error = function(e) character(0))
        if (length(layers) > 1L) {
            stop("the counts of assay '", assay, "' are split into layers (",
                 paste(layers, collapse = ", "), "); join them first: x <- JoinLayers(x).",
                 call. = FALSE)
        }
        layer_data <- getExportedValue("SeuratObject", "LayerData")
        tryCatch(layer_data(x, assay = assay, layer = "counts"),
                 error = function(e) matrix(numeric(0), 0, 0))
    } else {
        GetAssayData(x, slot = "counts", assay = assay)
    }
}

# Record the call the way Seurat's LogSeuratCommand() does (name "<command>.<assay>",
# time stamp, call string, parameters) so that x@commands shows it. A run under another
# reduction.name than the default is logged as "runScLSTM.<assay>.<reduction.name>", as
# Seurat names a command by its reduction, so that it does not replace the default run's
# entry; the default's name stays "runScLSTM.<assay>", as in objects made before.
# applyScLSTM() logs itself the same way (`command` "applyScLSTM").
.log_seurat_command <- function(x, assay, reduction.name, params, command = "runScLSTM") {
    calls <- sys.calls()
    hits <- Filter(function(cl) {
        f <- cl[[1]]
        identical(f, as.name(command)) || identical(f, call("::", quote(sclstm), as.name(command)))
    }, calls)
    call_string <- if (length(hits)) {
        paste(deparse(hits[[length(hits)]]), collapse = " ")
    } else {
        paste0(command, "(x)")
    }
    name <- paste0(command, ".", assay)
    if (!identical(reduction.name, "sclstm")) {
        name <- paste0(name, ".", reduction.name)
    }
    logged <- new("SeuratCommand", name = name,
                  time.stamp = Sys.time(), assay.used = assay,
                  call.string = call_string, params = params)
    x[[logged@name]] <- logged
    x
}
