# Small R objects for the edge cases in tests/test_io_r.py (no data files needed).
# Usage: Rscript make_edge_cases.R OUT_DIR
# Counts are count[g, c] = (g * 7 + c * 3) %% 11 for genes g1..g6 and cells c1..c8, so the
# test knows every value without reading anything back.
suppressPackageStartupMessages({
  library(Matrix)
  library(SingleCellExperiment)
  library(SeuratObject)
})
out <- commandArgs(trailingOnly = TRUE)[1]
genes <- paste0("g", 1:6)
cells <- paste0("c", 1:8)
cnt <- outer(1:6, 1:8, function(g, c) as.integer((g * 7L + c * 3L) %% 11L))
dimnames(cnt) <- list(genes, cells)

# NA in an integer and in a logical matrix, bare and as an SCE assay
m <- cnt
m[2, 3] <- NA
saveRDS(m, file.path(out, "int_na.rds"))
saveRDS(SingleCellExperiment(assays = list(counts = m)), file.path(out, "sce_int_na.rds"))
lg <- cnt > 4
lg[1, 1] <- NA
saveRDS(lg, file.path(out, "lgl_na.rds"))

# cells in rows: the orientation must be given
saveRDS(as.data.frame(t(cnt)), file.path(out, "df_cells_in_rows.rds"))

seu <- function() suppressWarnings(CreateSeuratObject(counts = as(cnt, "dgCMatrix"), project = "edge"))
# meta.data rows in another order than the cells (valid: Seurat matches them by name)
o <- seu()
o$label <- paste0("L", 1:8)
o@meta.data <- o@meta.data[8:1, ]
stopifnot(validObject(o))
saveRDS(o, file.path(out, "seurat_meta_reversed.rds"))
# a meta.data column of its own called 'ident', and Idents that differ from it
o <- seu()
o$ident <- factor(rep(c("mine1", "mine2"), 4))
Idents(o) <- factor(rep(c("A", "B"), each = 4))
saveRDS(o, file.path(out, "seurat_ident_column.rds"))
# two assays, the second the default
o <- seu()
o[["ADT"]] <- CreateAssayObject(counts = as(cnt[1:3, ] * 2L, "dgCMatrix"))
DefaultAssay(o) <- "ADT"
saveRDS(o, file.path(out, "seurat_two_assays.rds"))

# not one data object
x <- SingleCellExperiment(assays = list(counts = cnt))
saveRDS(list(first = x, second = x), file.path(out, "list_of_sce.rds"))
saveRDS(data.frame(gene = genes, as.data.frame(cnt)), file.path(out, "df_gene_column.rds"))
cat("ok\n")
