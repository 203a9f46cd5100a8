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
# X from an assay not named "counts": written back under its own name
saveRDS(SingleCellExperiment(assays = list(logcounts = log1p(cnt), raw = cnt)),
        file.path(out, "sce_logcounts_raw.rds"))
# NA as a level of a factor (addNA, factor(exclude = NULL)), in the middle of the levels
x <- SingleCellExperiment(assays = list(counts = cnt))
x$with_na <- factor(rep(c("a", NA, "b", "a"), 2), levels = c("a", NA, "b"), exclude = NULL)
reducedDim(x, "PCA") <- matrix(1, 8, 2)
reducedDim(x, "pca") <- matrix(2, 8, 3)  # names that differ only in case
saveRDS(x, file.path(out, "sce_na_level_pca_case.rds"))
# Idents equal to a meta.data column's values, in another level order
o <- seu()
o$cl <- factor(rep(c("x", "y"), 4), levels = c("y", "x"))
Idents(o) <- factor(rep(c("x", "y"), 4), levels = c("x", "y"))
saveRDS(o, file.path(out, "seurat_ident_levels.rds"))
# an .RData file with two objects saved under an .rds name
x1 <- cnt
x2 <- cnt * 2L
save(x1, x2, file = file.path(out, "two_objects_saved_as.rds"))
# duplicated gene names (an SCE allows them)
d <- cnt
rownames(d)[2] <- rownames(d)[1]
saveRDS(SingleCellExperiment(assays = list(counts = d)), file.path(out, "sce_dup_genes.rds"))
cat("ok\n")
