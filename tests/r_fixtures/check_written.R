# Read an .rds written by sclstm.io.write_rds in a fresh R and report what R sees.
# Usage: Rscript check_written.R FILE.rds OUT_DIR
# Writes OUT_DIR/summary.json and, as little-endian binaries, the counts slots (i, p, x) and
# the ScLSTM embedding, so the test can compare them exactly with what Python wrote.
suppressPackageStartupMessages({
  library(Matrix)
  library(SingleCellExperiment)
  library(SeuratObject)
})
args <- commandArgs(trailingOnly = TRUE)
x <- readRDS(args[1])
out <- args[2]
wb <- function(v, name) writeBin(v, file.path(out, name), size = if (is.integer(v)) 4 else 8)
s <- list(class = class(x)[1], valid = isTRUE(validObject(x)))
if (is(x, "SingleCellExperiment")) {
  counts <- assay(x, "counts")
  cd <- colData(x)
  s$dim <- dim(x)
  s$assays <- assayNames(x)
  s$reduced <- reducedDimNames(x)
  s$reduced_dims <- lapply(reducedDims(x), dim)
  emb <- reducedDim(x, "SCLSTM")
  s$coldata <- colnames(cd)
  s$coldata_classes <- lapply(as.list(cd), function(v) class(v)[1])
  s$metadata_sclstm <- metadata(x)$sclstm
  # a record of strings is a named character vector, as the R package stores versions
  s$versions_class <- class(metadata(x)$sclstm$versions)
  s$versions <- as.list(metadata(x)$sclstm$versions)
  s$emb_rownames_ok <- identical(rownames(emb), colnames(x))
  s$emb_colnames <- colnames(emb)
} else {
  counts <- GetAssayData(x, slot = "counts")
  cd <- x[[]]
  s$dim <- dim(x)
  s$reductions <- Reductions(x)
  s$keys <- sapply(Reductions(x), function(r) Key(x[[r]]), simplify = FALSE)
  emb <- Embeddings(x, "sclstm")
  s$coldata <- colnames(cd)
  s$coldata_classes <- lapply(cd, function(v) class(v)[1])
  s$idents_levels <- levels(Idents(x))
  s$idents_equal_clusters <- identical(as.character(Idents(x)), as.character(x$sclstm_clusters))
  s$misc_sclstm <- Misc(x, "sclstm")
  s$reduction_misc_sclstm <- Misc(x[["sclstm"]], "sclstm")
  s$emb_rownames_ok <- identical(rownames(emb), colnames(x))
}
s$counts_class <- class(counts)[1]
s$cells <- colnames(x)
s$genes <- rownames(x)
s$cluster_levels <- levels(cd$sclstm_clusters)
s$cluster_values <- as.character(cd$sclstm_clusters)
wb(counts@i, "i.bin"); wb(counts@p, "p.bin"); wb(counts@x, "x.bin")
wb(as.vector(emb), "emb.bin")
s$emb_dim <- dim(emb)
writeLines(jsonlite::toJSON(s, auto_unbox = TRUE, digits = NA, null = "null"), file.path(out, "summary.json"))
