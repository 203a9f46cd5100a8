#' sclstm as a bluster clustering method
#'
#' A \linkS4class{BlusterParam} that runs sclstm from \code{bluster::clusterRows()},
#' for code that chooses its clustering algorithm through \pkg{bluster}.
#'
#' Note the orientation: like every \code{clusterRows()} method, this clusters the
#' \emph{rows} of \code{x}, so pass counts with cells in rows and genes in columns,
#' for example \code{t(counts(sce))}. sclstm needs counts (or non-negative
#' expression), not principal components. The run's message says how \code{x} was read
#' (\code{"read as cells x genes: <c> cells in rows, <g> genes in columns"} and a hint,
#' recorded in the details, without \code{"read as"} and the hint, as \code{read_as}), and an error about the cells (such as rows with
#' no counts, which are usually genes) gives the dimensions \code{x} was read with.
#'
#' Every argument can be read and set with \code{[[} (\code{p[["n_steps"]] <- 200}), so
#' \code{bluster::clusterSweep()} sweeps the estimator's arguments as well as \code{k} and
#' \code{seed}; a value set so is checked as \code{ScLSTMParam()} checks it.
#'
#' @param k Number of cell types, or \code{NULL} (default) to estimate it.
#' @param seed Random seed (non-negative whole number; default 0, as for
#'   \code{\link{runScLSTM}}).
#' @param ... Further arguments for the Python estimator \code{sclstm.ScLSTM}, by
#'   name (for example \code{n_steps = 200}), each a single value, as for
#'   \code{\link{runScLSTM}}. They are checked when the object is built: an unnamed
#'   one is an error, and so are a name the estimator does not have (the error lists
#'   those it has) and a value that is not a single one (\code{NULL}, \code{NA}, a
#'   vector of several). The names come from Python, which building an
#'   \code{ScLSTMParam} with such arguments therefore starts (see
#'   \code{\link{sclstmPython}}); when it is not available (\code{sclstmAvailable()}
#'   is \code{FALSE}), the checks that need it wait for \code{clusterRows()}.
#'   \code{labels =} (a vector with one known cell type per cell, \code{NA} or an empty
#'   string for the cells to predict) selects the labelled mode, as for
#'   \code{\link{runScLSTM}}; it must be in the row order of the matrix given to
#'   \code{clusterRows()} (a vector named by cell is matched to the row names instead).
#'   It is stored in the \code{ScLSTMParam} as given, so it does not follow a subset of
#'   that matrix: for a subset of the cells, build the \code{ScLSTMParam} again with
#'   the labels of those cells. \code{save.model =} saves the model, as for
#'   \code{\link{runScLSTM}}.
#' @param x A cells × genes count matrix (dense or sparse).
#' @param BLUSPARAM An \code{ScLSTMParam}.
#' @param full Return the embedding and details too?
#' @param object An \code{ScLSTMParam}, for \code{show}.
#' @param i The name of an argument (\code{"k"}, \code{"seed"} or an estimator argument),
#'   for \code{[[}.
#' @param j,value Unused, and the value to set, for \code{[[<-}.
#' @return \code{ScLSTMParam()}: an \code{ScLSTMParam} object. \code{clusterRows()}:
#'   a factor of clusters, one per row of \code{x}, with levels \code{"0"}, \code{"1"},
#'   ... (cluster 0 the largest, as for \code{\link{runScLSTM}}; bluster's own methods
#'   number from 1), named by its row names (as
#'   \code{KmeansParam()}'s and \code{HclustParam()}'s are); with \code{full = TRUE}, a list
#'   with \code{clusters} and \code{objects} (a list with \code{embedding} and
#'   \code{details}; in labelled mode also \code{predicted}, the predicted type of every
#'   cell as a factor, and \code{predicted_confidence}, its probability, both named by
#'   the row names of \code{x}, as for \code{\link{runScLSTM}} on a matrix).
#'
#' @examples
#' p <- ScLSTMParam(k = 3, seed = 1)
#' p
#' if (sclstmAvailable()) {
#'     set.seed(1)
#'     counts <- matrix(rpois(60 * 200, 2), ncol = 200)
#'     counts[1:30, 1:40] <- counts[1:30, 1:40] + rpois(30 * 40, 10)
#'     table(bluster::clusterRows(counts, ScLSTMParam(k = 2, n_steps = 20)))
#' }
#' @seealso \code{\link{runScLSTM}}
#' @name ScLSTMParam
#' @aliases ScLSTMParam-class show,ScLSTMParam-method
#'   clusterRows,ANY,ScLSTMParam-method [[,ScLSTMParam-method [[<-,ScLSTMParam-method
#' @importClassesFrom bluster BlusterParam
#' @importFrom bluster clusterRows
#' @importFrom methods show
NULL

#' @export
setClass("ScLSTMParam", contains = "BlusterParam",
         slots = c(k = "integer", seed = "integer", extra = "list"))

setValidity("ScLSTMParam", function(object) {
    msg <- character(0)
    if (length(object@k) != 1L || (!is.na(object@k) && object@k < 2L)) {
        msg <- c(msg, "'k' must be NA (estimate it) or a whole number of at least 2")
    }
    if (length(object@seed) != 1L || is.na(object@seed) || object@seed < 0L) {
        msg <- c(msg, "'seed' must be a single non-negative whole number")
    }
    if (length(msg)) msg else TRUE
})

#' @rdname ScLSTMParam
#' @export
ScLSTMParam <- function(k = NULL, seed = 0, ...) {
    k <- .check_k(k)
    extra <- list(...)
    # checked here, not at clusterRows(): an unnamed one would reach the fit as labels, and
    # an unknown one, or one that is not a single value, would fail only there. The names
    # are the estimator's, which Python lists: without Python (not installed yet), those
    # checks wait for clusterRows().
    python <- if (length(extra) && isTRUE(sclstmAvailable())) sclstmPython()
    .check_estimator_arguments(extra, "ScLSTMParam()", sclstm = python)
    new("ScLSTMParam", k = if (is.null(k)) NA_integer_ else k,
        seed = .check_seed(seed), extra = extra)
}

# bluster's clusterSweep() sets what it sweeps with [[<-, which for a BlusterParam sets a slot:
# the estimator's arguments live in one slot, extra, so they are read and set there (before,
# sweeping n_steps failed with "'n_steps' is not a slot in class ScLSTMParam")
#' @rdname ScLSTMParam
#' @export
setMethod("[[", "ScLSTMParam", function(x, i, j, ...) {
    if (i %in% methods::slotNames(x)) methods::slot(x, i) else x@extra[[i]]
})

#' @rdname ScLSTMParam
#' @export
setReplaceMethod("[[", "ScLSTMParam", function(x, i, j, ..., value) {
    if (identical(i, "k")) {
        k <- .check_k(value)
        x@k <- if (is.null(k)) NA_integer_ else k
    } else if (identical(i, "seed")) {
        x@seed <- .check_seed(value)
    } else {
        one <- stats::setNames(list(value), i)
        python <- if (isTRUE(sclstmAvailable())) sclstmPython()
        .check_estimator_arguments(one, "ScLSTMParam()", sclstm = python)
        x@extra[[i]] <- value
    }
    methods::validObject(x)
    x
})

#' @rdname ScLSTMParam
#' @export
setMethod("show", "ScLSTMParam", function(object) {
    cat("class: ScLSTMParam\n")
    cat("k:", if (is.na(object@k)) "estimated" else object@k, "\n")
    cat("seed:", object@seed, "\n")
    if (length(object@extra)) {
        shown <- vapply(object@extra, function(v) {
            if (length(v) > 3L) {
                sprintf("<%s of length %d>", class(v)[1], length(v))
            } else {
                paste(format(v), collapse = ",")
            }
        }, character(1))
        cat("extra:", paste0(names(object@extra), "=", shown, collapse = ", "), "\n")
    }
})

#' @rdname ScLSTMParam
#' @export
setMethod("clusterRows", c("ANY", "ScLSTMParam"), function(x, BLUSPARAM, full = FALSE) {
    k <- if (is.na(BLUSPARAM@k)) NULL else BLUSPARAM@k
    # what ScLSTMParam() left unchecked, Python not being available then
    .check_estimator_arguments(BLUSPARAM@extra, "ScLSTMParam()")
    read_as <- sprintf("cells x genes: %d cells in rows, %d genes in columns", nrow(x), ncol(x))
    res <- .with_orientation_hint(
        do.call(.run_core, c(list(x, k = k, seed = BLUSPARAM@seed,
                                  cells_in_columns = FALSE), BLUSPARAM@extra)),
        sprintf(paste0("clusterRows() clusters the rows of x: here %d cells in rows, %d genes ",
                       "in columns; if the genes are the rows, pass t(x)"), nrow(x), ncol(x)),
        read_as = paste0(read_as, " (if the genes are the rows, pass t(x))")
    )
    res$details$read_as <- read_as
    .warn_na_rows(sum(is.na(res$clusters)), " (the rows of x whose clusters are not NA)")
    # named by the rows of x, as KmeansParam()'s and HclustParam()'s are (none without row names)
    clusters <- stats::setNames(unname(res$clusters), rownames(x))
    if (full) {
        # the labelled mode's predicted types (NULL, so left out, in the unsupervised mode)
        objects <- c(list(embedding = res$embedding, details = res$details),
                     res[c("predicted", "predicted_confidence")])
        list(clusters = clusters, objects = Filter(Negate(is.null), objects))
    } else {
        clusters
    }
})
