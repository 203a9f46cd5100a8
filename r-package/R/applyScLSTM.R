#' Use a saved sclstm model on new cells
#'
#' Gives the cells of \code{x} the embedding of a model saved by
#' \code{runScLSTM(..., save.model = "model.pt")} (or, in Python, by
#' \code{ScLSTM.save()} or \code{sclstm cluster --save-model}) and, for a model
#' fitted with labels, their predicted types: label transfer from a reference to a
#' query, as \pkg{SingleR} or Seurat's \code{TransferData()} do. The model is not
#' refitted, so the new cells are ones it never saw. An unsupervised model's
#' clusters are not defined for new cells: it gives the embedding only.
#'
#' Genes are matched to the model by name (the row names of the counts), in any
#' order; genes the model did not keep at its fit may be missing (it keeps the genes
#' expressed in enough cells, not only the variable ones), and a gene it kept that
#' \code{x} lacks is an error naming it. A Seurat object's features that Seurat renamed
#' ("_" to "-", as \code{CreateSeuratObject()} does) are matched to the model's names. When either side lacks gene names (a model
#' saved from counts without row names, which \code{runScLSTM()} warns about, or
#' counts \code{x} without row names) they are matched by position: \code{x} must then
#' hold the model's genes, in the model's order.
#'
#' The prediction columns (\code{sclstm_predicted}, \code{sclstm_predicted_confidence})
#' are written for a labelled model and removed for an unsupervised one; as for
#' \code{\link{runScLSTM}}, columns by these names that no sclstm run wrote are the
#' user's, and are refused (before any work) rather than replaced or deleted. The details
#' record the columns written as \code{columns_written}.
#'
#' @param x A \linkS4class{SingleCellExperiment}, a \code{Seurat} object, or a
#'   genes × cells count matrix, as for \code{\link{runScLSTM}} (a plain
#'   \code{SummarizedExperiment} is refused: convert it with
#'   \code{as(x, "SingleCellExperiment")}).
#' @param model Path of the model file (\code{.pt}).
#' @param drop_empty Give all-zero cells (and cells with counts only in genes the model
#'   does not read) \code{NA} instead of stopping? \code{NULL}, the default: as the model
#'   was fitted (\code{runScLSTM(..., drop_empty = TRUE)} or not), as Python's
#'   \code{transform()} and \code{predict()} and the command line's \code{apply} do;
#'   \code{TRUE} or \code{FALSE} to choose.
#' @param assay.type For a SingleCellExperiment: the assay holding the counts, by name
#'   or index, as for \code{\link{runScLSTM}}.
#' @param assay,reduction.name,reduction.key,set.ident For a Seurat object, as for
#'   \code{\link{runScLSTM}}; \code{set.ident = TRUE} sets \code{Idents(x)} to the
#'   predicted types of a labelled model.
#' @param ... Unused; an argument given here is an error.
#'
#' @return
#' \describe{
#'   \item{SingleCellExperiment}{\code{x} with \code{reducedDim(x, "SCLSTM")} and, for a
#'     labelled model, \code{colData(x)$sclstm_predicted} (a factor whose levels are all
#'     the model's classes, predicted or not, in the order \code{runScLSTM()} gave them
#'     when it saved the model; for a model saved from Python, in the model's own order,
#'     \code{classes_}) and \code{colData(x)$sclstm_predicted_confidence}; what was done
#'     in \code{metadata(x)$sclstm_apply}, with the assay read by name and, for a labelled
#'     model, \code{labelled_mask}: \code{TRUE} for the cells named as one whose label the
#'     model trained on (by cell name; none when the model's cells had no names, with a
#'     warning), which \code{sclstm score} leaves out of the predictions' accuracy.}
#'   \item{Seurat}{\code{x} with the \code{DimReduc} \code{reduction.name} and, for a
#'     labelled model, the meta.data columns \code{sclstm_predicted} and
#'     \code{sclstm_predicted_confidence} (for an unsupervised model, those columns are
#'     removed if an earlier labelled run left them); details in
#'     \code{Misc(x, "sclstm_apply")} and in the DimReduc's \code{misc}. See below for
#'     what is left of an earlier \code{runScLSTM()}.}
#'   \item{matrix}{a list with \code{embedding}, \code{details} and, for a labelled
#'     model, \code{predicted} and \code{predicted_confidence}.}
#' }
#'
#' @section Seurat objects with a runScLSTM() result:
#' \code{applyScLSTM()} writes the embedding and, for a labelled model, the
#' predictions, but no clusters. So on a Seurat object that already holds a
#' \code{runScLSTM()} result under the same \code{reduction.name} (by default
#' \code{"sclstm"}), the earlier fit's \code{DimReduc} is replaced by the model's
#' embedding, while the meta.data column \code{sclstm_clusters} (and
#' \code{<reduction.name>_clusters}, the same column for the default name) is left in
#' place: it still holds the earlier fit's clusters, which were not computed from the
#' new embedding. \code{Misc(x, "sclstm")} and the \code{runScLSTM} command in
#' \code{x@commands} also stay the earlier fit's; \code{applyScLSTM()} logs its own,
#' \code{applyScLSTM.<assay>} (with \code{.<reduction.name>} for another name than
#' \code{"sclstm"}), as Seurat logs its commands. The columns written by \code{applyScLSTM()} are
#' \code{sclstm_predicted} and \code{sclstm_predicted_confidence} (labelled model
#' only). \code{Idents(x)} change only with \code{set.ident = TRUE} and a labelled
#' model, to the predicted types; otherwise they stay as they were (the earlier fit's
#' clusters, if it set them). To keep the earlier fit's embedding beside the model's,
#' give \code{applyScLSTM()} another \code{reduction.name} and \code{reduction.key};
#' to drop the earlier clusters, remove the column
#' (\code{x[["sclstm_clusters"]] <- NULL}). A later \code{runScLSTM()} under the name
#' replaces the clusters column as usual. A SingleCellExperiment is treated alike:
#' \code{reducedDim(x, "SCLSTM")} is replaced, while \code{colData(x)$sclstm_clusters}
#' and \code{metadata(x)$sclstm} stay the earlier fit's.
#' @examples
#' if (sclstmAvailable()) {
#'     set.seed(1)
#'     counts <- matrix(rpois(60 * 200, 2), nrow = 200,
#'                      dimnames = list(paste0("g", 1:200), paste0("c", 1:60)))
#'     counts[1:40, 1:30] <- counts[1:40, 1:30] + rpois(40 * 30, 10)
#'     type <- rep(c("A", "B"), each = 30)
#'     model <- tempfile(fileext = ".pt")
#'     ref <- runScLSTM(counts[, c(1:20, 31:50)], labels = type[c(1:20, 31:50)],
#'                      n_steps = 20, save.model = model)
#'     query <- applyScLSTM(counts[, c(21:30, 51:60)], model)
#'     table(query$predicted, type[c(21:30, 51:60)])
#' }
#' @seealso \code{\link{runScLSTM}}
#' @export
setGeneric("applyScLSTM", function(x, model, ...) standardGeneric("applyScLSTM"))

# Embedding (cells × d, rownames = cells) of the cells of `counts` (genes × cells) under
# a saved model, details, and for a labelled model predicted (factor named by cell) and
# predicted_confidence.
.apply_core <- function(counts, model, drop_empty = NULL, seurat_features = FALSE) {
    if (!(is.character(model) && length(model) == 1L && !is.na(model))) {
        stop("model must be the path of a model file (.pt), got ",
             paste(deparse(model), collapse = " "), ".", call. = FALSE)
    }
    if (!is.null(drop_empty) && !(is.logical(drop_empty) && length(drop_empty) == 1L && !is.na(drop_empty))) {
        stop("drop_empty must be TRUE, FALSE or NULL (the model's setting).", call. = FALSE)
    }
    sclstm <- sclstmPython()
    est <- .py_call(sclstm$ScLSTM$load(path.expand(model)))
    classes <- .to_r(reticulate::py_get_attr(est, "classes_", silent = TRUE))
    labelled <- !is.null(classes)
    if (seurat_features) {
        counts <- .with_model_gene_names(counts, .to_r(reticulate::py_get_attr(est, "gene_names_",
                                                                                silent = TRUE)))
    }
    # one pass gives the embedding and, for a labelled model, the class probabilities
    # counts without gene names go bare (genes matched by position), their cells named here
    # as R numbers them, so that Python's errors name them as R does (before: from 0)
    cells <- if (is.null(rownames(counts))) as.list(.names_for_python(colnames(counts), ncol(counts)))
    res <- .with_python_warnings(.py_call(
        est$`_new_cells`(.counts_with_names(counts), drop_empty, labelled, cell_names = cells)))
    cell_names <- colnames(counts)
    emb <- .to_r(res[[1]])
    embedding <- matrix(as.double(emb), nrow = ncol(counts),
                        dimnames = list(cell_names, paste0("SCLSTM_", seq_len(ncol(emb)))))
    kept <- !is.na(embedding[, 1])
    .warn_na_rows(sum(!kept), " (those whose embedding rows are not NA)")
    details <- list(model_file = model, model_mode = .to_r(est$mode),
                    n_cells_fitted = as.integer(.to_r(est$n_cells_)),
                    n_cells = ncol(counts), n_empty_cells_dropped = sum(!kept),
                    r_package_version = as.character(utils::packageVersion("sclstm")))
    out <- list(embedding = embedding, details = details)
    if (labelled) {
        classes <- .class_names(classes)
        prob <- .to_r(res[[2]])
        predicted <- rep(NA_character_, ncol(counts))
        predicted[kept] <- classes[max.col(prob[kept, , drop = FALSE], ties.method = "first")]
        # all the model's classes, in the order runScLSTM() gave them (a factor's levels,
        # numbers by value) or, for a model saved from Python, in the model's order
        levels <- .model_class_levels(est, classes)
        out$predicted <- stats::setNames(factor(predicted, levels = levels), cell_names)
        confidence <- rep(NA_real_, ncol(counts))
        confidence[kept] <- apply(prob[kept, , drop = FALSE], 1, max)
        out$predicted_confidence <- stats::setNames(confidence, cell_names)
        out$details$labelled_mask <- .trained_on(est, cell_names)
    }
    out
}

# The cells named as one whose label a labelled model trained on (named by cell), as
# `sclstm apply` marks them: `sclstm score` leaves them out of the predictions' accuracy
# (before, it scored them, or used an earlier run's mask). A model whose cells had no names
# cannot tell: none is marked, and a warning says so.
.trained_on <- function(est, cell_names) {
    if (is.null(cell_names)) {
        return(NULL)
    }
    cli <- reticulate::import("sclstm.cli", convert = FALSE)
    seen <- .to_r(cli$trained_on(est, reticulate::r_to_py(as.list(cell_names))))
    if (is.null(seen)) {
        warning("the model's cells had no names, so which of these cells it trained on is unknown: ",
                "none is marked, and an accuracy of its predictions on them may include them.",
                call. = FALSE)
        seen <- rep(FALSE, length(cell_names))
    }
    stats::setNames(as.logical(seen), cell_names)
}

# A Seurat object's features under the model's gene names where Seurat renamed them:
# CreateSeuratObject() turns "_" into "-", so a model fitted on "AAAS_x" meets "AAAS-x".
# A feature takes the model's name only when it is not a model gene itself and the
# renaming is one to one; other features keep theirs.
.with_model_gene_names <- function(counts, model_genes) {
    model_genes <- if (!is.null(model_genes)) as.character(unlist(model_genes))
    features <- rownames(counts)
    if (is.null(features) || !length(model_genes) || all(model_genes %in% features)) {
        return(counts)
    }
    seurat_form <- gsub("_", "-", model_genes, fixed = TRUE)
    if (anyDuplicated(seurat_form)) {
        return(counts)
    }
    hit <- match(features, seurat_form)
    rename <- !is.na(hit) & !(features %in% model_genes)
    renamed <- features
    renamed[rename] <- model_genes[hit[rename]]
    if (any(rename) && !anyDuplicated(renamed)) {
        rownames(counts) <- renamed
    }
    counts
}

# Counts (genes × cells) to Python as an AnnData carrying the gene and cell names, so
# that the model matches genes by name (and Python's errors name the cells as R does);
# without gene names, the bare matrix, as the model then matches genes by position.
.counts_with_names <- function(counts) {
    if (is.null(rownames(counts))) {
        return(.counts_to_python(counts, cells_in_columns = TRUE))
    }
    X <- .counts_to_python(counts, cells_in_columns = TRUE)
    .anndata_of(X, .names_for_python(colnames(counts), ncol(counts)), rownames(counts))
}

.no_extra <- function(...) {
    if (...length()) {
        stop("applyScLSTM() takes x, model, drop_empty and the object's own arguments; ",
             "got others (", paste(names(list(...)), collapse = ", "), "). The model's ",
             "parameters were fixed when it was fitted.", call. = FALSE)
    }
    invisible()
}

#' @rdname applyScLSTM
#' @export
setMethod("applyScLSTM", "ANY", function(x, model, drop_empty = NULL, ...) {
    .no_extra(...)
    .refuse_summarized_experiment(x, "applyScLSTM()")
    if (is.null(dim(x)) || length(dim(x)) != 2L) {
        stop("applyScLSTM() needs a SingleCellExperiment, a Seurat object or a genes x ",
             "cells matrix, got an object of class '", class(x)[1], "'.", call. = FALSE)
    }
    .with_orientation_hint(
        .apply_core(x, model, drop_empty),
        sprintf(paste0("applyScLSTM() reads a matrix as genes x cells: here %d genes in rows, ",
                       "%d cells in columns; if the cells are the rows, pass t(x)"),
                nrow(x), ncol(x))
    )
})

#' @rdname applyScLSTM
#' @export
setMethod("applyScLSTM", "SingleCellExperiment",
          function(x, model, drop_empty = NULL, ..., assay.type = "counts") {
    .no_extra(...)
    assay_name <- .sce_assay_type(x, assay.type)
    present <- colnames(colData(x))
    .check_sce_own(x, "applyScLSTM()")
    .check_own_columns(present, .PREDICTION_COLUMNS, .sce_columns_written(x), "colData(x)",
                       "applyScLSTM()")
    res <- .apply_core(assay(x, assay.type, withDimnames = TRUE), model, drop_empty)
    res$details$assay.type <- assay_name
    # an unsupervised model must not leave an earlier labelled run's predictions behind
    .store_in_sce(x, res, "sclstm_apply", .written_columns(res), present)
})

#' @rdname applyScLSTM
#' @export
setMethod("applyScLSTM", "Seurat",
          function(x, model, drop_empty = NULL, ..., assay = NULL, set.ident = FALSE,
                   reduction.name = "sclstm", reduction.key = "SCLSTM_") {
    .no_extra(...)
    assay <- .seurat_assay(x, assay)
    .check_reduction(x, reduction.name, reduction.key)
    .check_own_records(x@misc, "x@misc", "applyScLSTM()")
    .check_own_columns(colnames(x[[]]), .PREDICTION_COLUMNS, .seurat_columns_written(x),
                       "the meta.data of x", "applyScLSTM()")
    res <- .apply_core(.seurat_assay_counts(x, assay, "applyScLSTM()"), model, drop_empty,
                       seurat_features = TRUE)
    res$details$assay <- assay
    # the embedding only: a clusters column an earlier runScLSTM() wrote under this name
    # stays sclstm's, to be replaced by a later run under the name
    x <- .store_in_seurat(x, res, assay, reduction.name, reduction.key, "sclstm_apply",
                          clusters.column = .recorded_clusters_column(x, reduction.name),
                          written = .written_columns(res))
    if (isTRUE(set.ident)) {
        if (is.null(res$predicted)) {
            warning("set.ident = TRUE needs a labelled model (predicted types); Idents left ",
                    "as they were.", call. = FALSE)
        } else {
            Idents(x) <- "sclstm_predicted"
        }
    }
    .log_seurat_command(x, assay, reduction.name,
                        list(model = model, drop_empty = drop_empty, assay = assay,
                             set.ident = set.ident, reduction.name = reduction.name,
                             reduction.key = reduction.key),
                        command = "applyScLSTM")
})
