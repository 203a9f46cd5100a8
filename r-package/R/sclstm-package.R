#' sclstm: cell type detection with a siamese LSTM
#'
#' R interface to the Python package \code{sclstm}. Use \code{\link{runScLSTM}} on a
#' SingleCellExperiment, a Seurat object or a count matrix, or
#' \code{\link{ScLSTMParam}} with \code{bluster::clusterRows()}. See
#' \code{\link{sclstmPython}} for how Python is found, and
#' \code{vignette("sclstm")} for a worked example.
#'
#' @keywords internal
"_PACKAGE"
