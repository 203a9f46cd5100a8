#' sclstm: cell type detection with a siamese LSTM
#'
#' R interface to the Python package \code{sclstm}. Use \code{\link{runScLSTM}} on a
#' SingleCellExperiment, a Seurat object or a count matrix, or
#' \code{\link{ScLSTMParam}} with \code{bluster::clusterRows()}. See
#' \code{\link{sclstmPython}} for how Python is found, and
#' \code{vignette("sclstm")} for a worked example. The vignette is installed only with
#' a package built with it: from the tarball of \code{R CMD build} (which
#' \code{make test-r} writes to \file{build/r/}), or with
#' \code{remotes::install_local("path/to/sclstm/r-package", build_vignettes = TRUE)}; \code{R CMD INSTALL
#' r-package} on the source checkout installs none. Its source is
#' \file{vignettes/sclstm.Rmd} in the checkout.
#'
#' @keywords internal
"_PACKAGE"
