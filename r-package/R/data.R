#' Demo data: 299 cells from Pollen et al. (2014)
#'
#' The small dataset that the Python package ships for its demo, as a
#' \linkS4class{SingleCellExperiment}: raw counts of the 3000 most variable genes
#' (a sparse \code{dgCMatrix}, genes × cells) and the eleven published cell types in
#' \code{colData(sce)$cell_type}. It is read through the Python package, so it needs
#' the same set-up as \code{\link{runScLSTM}} (see \code{\link{sclstmPython}}).
#'
#' @return A \linkS4class{SingleCellExperiment}.
#' @examples
#' if (sclstmAvailable()) {
#'     sce <- sclstmDemoData()
#'     table(sce$cell_type)
#' }
#' @importFrom SingleCellExperiment SingleCellExperiment
#' @export
sclstmDemoData <- function() {
    sclstmPython()
    py <- reticulate::import("sclstm", convert = FALSE)
    adata <- .py_call(py$datasets$load_demo())
    counts <- .anndata_counts(adata)
    cell_type <- unlist(reticulate::py_to_r(
        adata$obs$`__getitem__`("cell_type")$astype("str")$tolist()))
    sce <- SingleCellExperiment(assays = list(counts = counts))
    sce$cell_type <- cell_type
    sce
}

# X of an AnnData (cells × genes, sparse or dense) as a genes × cells dgCMatrix with
# names. Built from the CSR arrays directly: the CSR arrays of a cells × genes matrix
# are the CSC arrays of its transpose, so nothing is densified or copied twice.
.anndata_counts <- function(adata) {
    sp <- reticulate::import("scipy.sparse", convert = FALSE)
    C <- sp$csr_matrix(adata$X)
    C$sort_indices()
    shape <- unlist(reticulate::py_to_r(C$shape))
    counts <- new("dgCMatrix",
                  i = as.integer(reticulate::py_to_r(C$indices)),
                  p = as.integer(reticulate::py_to_r(C$indptr)),
                  x = as.double(reticulate::py_to_r(C$data)),
                  Dim = as.integer(c(shape[2], shape[1])))
    dimnames(counts) <- list(
        unlist(reticulate::py_to_r(adata$var_names$tolist())),
        unlist(reticulate::py_to_r(adata$obs_names$tolist()))
    )
    counts
}
