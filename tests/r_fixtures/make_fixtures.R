# Build the R objects tests/test_io_r.py reads, from raw binaries written by the test.
# Usage: Rscript make_fixtures.R IN_DIR OUT_DIR
# Everything numeric comes from IN_DIR as little-endian binaries (exact; no text round trip):
#   NAME_i.bin / NAME_p.bin (int32), NAME_x.bin (float64): CSR cells x genes = CSC genes x cells
#   NAME_cells.txt / NAME_genes.txt: names, one a line
suppressPackageStartupMessages({
  library(Matrix)
  library(SingleCellExperiment)
  library(SeuratObject)
})
args <- commandArgs(trailingOnly = TRUE)
inp <- args[1]
out <- args[2]
f <- function(...) file.path(inp, paste0(...))
rint <- function(path) readBin(path, "integer", n = file.size(path) / 4, size = 4)
rdbl <- function(path) readBin(path, "double", n = file.size(path) / 8, size = 8)
rtxt <- function(path) { x <- readLines(path, encoding = "UTF-8"); x[x == "<NA>"] <- NA; x }

dgc <- function(nm, xfile = paste0(nm, "_x.bin")) {
  cells <- rtxt(f(nm, "_cells.txt")); genes <- rtxt(f(nm, "_genes.txt"))
  new("dgCMatrix", i = rint(f(nm, "_i.bin")), p = rint(f(nm, "_p.bin")), x = rdbl(file.path(inp, xfile)),
      Dim = c(length(genes), length(cells)), Dimnames = list(genes, cells))
}
fac <- function(codes, levels) structure(ifelse(codes < 0L, NA_integer_, codes + 1L), levels = levels, class = "factor")

# ---- biase: SingleCellExperiment with two assays, typed colData / rowData, reducedDims, metadata
counts <- dgc("biase")
logc <- dgc("biase", "biase_logx.bin")
cd <- S4Vectors::DataFrame(
  cell_type = fac(rint(f("biase_celltype_codes.bin")), rtxt(f("biase_celltype_levels.txt"))),
  stage = factor(rtxt(f("biase_stage.txt")), levels = rev(unique(rtxt(f("biase_stage.txt")))), ordered = TRUE),
  label = rtxt(f("biase_label.txt")),
  n_int = rint(f("biase_nint.bin")),
  flag = as.logical(rint(f("biase_flag.bin"))),
  score = rdbl(f("biase_score.bin")),
  row.names = colnames(counts), check.names = FALSE)
cd$score[2] <- NA_real_  # R's NA (not NaN) must come back as NaN too
rd <- S4Vectors::DataFrame(gene_len = rint(f("biase_genelen.bin")), symbol = toupper(rownames(counts)),
                           row.names = rownames(counts))
n <- ncol(counts)
sce <- SingleCellExperiment(
  assays = list(counts = counts, logcounts = logc), colData = cd, rowData = rd,
  reducedDims = list(PCA = matrix(rdbl(f("biase_pca.bin")), nrow = n),
                     UMAP = matrix(rdbl(f("biase_umap.bin")), nrow = n)),
  metadata = list(sclstm = list(n_clusters = 4L, seed = 7L, method = "test", curve = c(0.5, 0.25, 0.125),
                                versions = c(sclstm = "0.1.0", torch = "2.13.0"),
                                guard = c(kernel = 0.5, learned = 0.75)),
                  note = "made by make_fixtures.R"))
saveRDS(sce, file.path(out, "biase_sce.rds"))
# a SummarizedExperiment without counts: X is the first assay
se <- SummarizedExperiment::SummarizedExperiment(assays = list(logcounts = logc), colData = cd)
saveRDS(se, file.path(out, "biase_se.rds"))

# ---- pollen: Seurat v4 object (counts, data, partial scale.data, pca, idents, variable features, misc)
pc <- dgc("pollen")
pl <- dgc("pollen", "pollen_logx.bin")
cells <- colnames(pc)
meta <- data.frame(cell_type = fac(rint(f("pollen_celltype_codes.bin")), rtxt(f("pollen_celltype_levels.txt"))),
                   row.names = cells)
obj <- suppressWarnings(CreateSeuratObject(counts = pc, project = "pollen", meta.data = meta))
genes <- rownames(obj)  # Seurat turns '_' into '-' in feature names
rownames(pl) <- genes
obj <- SetAssayData(obj, slot = "data", new.data = pl)
vf <- genes[rint(f("pollen_hvg.bin")) + 1L]
VariableFeatures(obj) <- vf
sc <- matrix(rdbl(f("pollen_scale.bin")), nrow = length(vf), dimnames = list(vf, cells))
obj <- SetAssayData(obj, slot = "scale.data", new.data = sc)
emb <- matrix(rdbl(f("pollen_pca.bin")), nrow = length(cells), dimnames = list(cells, paste0("PC_", 1:5)))
obj[["pca"]] <- CreateDimReducObject(embeddings = emb, key = "PC_", assay = "RNA")
Idents(obj) <- "cell_type"
obj@misc$sclstm <- list(n_clusters = 11L)
saveRDS(obj, file.path(out, "pollen_seurat.rds"))
# identities that are no meta.data column, with their own (unsorted) level order
withid <- obj
Idents(withid) <- factor(paste0("t", as.integer(obj$cell_type) %% 3L), levels = c("t2", "t0", "t1"))
VariableFeatures(withid) <- rev(vf)  # not in the genes' order
saveRDS(withid, file.path(out, "pollen_seurat_idents.rds"))

# a fake Seurat v5 object: as SeuratObject 5 saves it, its assay is of class Assay5
v5 <- obj
v5@version <- package_version("5.0.1")
a5 <- v5@assays$RNA
attr(a5, "class") <- structure("Assay5", package = "SeuratObject")
v5@assays$RNA <- a5
saveRDS(v5, file.path(out, "pollen_seurat_v5.rds"))

# ---- blakeley: bare matrices and a data.frame (genes x cells)
bx <- dgc("blakeley")
saveRDS(bx, file.path(out, "blakeley_dgc.rds"))
saveRDS(t(bx), file.path(out, "blakeley_dgc_cells_by_genes.rds"))
bd <- as.matrix(bx)
saveRDS(bd, file.path(out, "blakeley_dense.rds"))
bi <- bd[1:200, ]
storage.mode(bi) <- "integer"
saveRDS(bi, file.path(out, "blakeley_int.rds"))
saveRDS(as.data.frame(bd[1:300, ]), file.path(out, "blakeley_df.rds"))
saveRDS(as(bx, "TsparseMatrix"), file.path(out, "blakeley_dgt.rds"))

# ---- .RData files
annot <- data.frame(cell = colnames(bx), type = "x")
note <- "not data"
save(sce, bx, note, file = file.path(out, "two.RData"))
save(bx, annot, note, file = file.path(out, "one.RData"))
save(annot, note, file = file.path(out, "none.RData"))
saveRDS(list(a = 1, b = "x"), file.path(out, "list.rds"))
saveRDS(lm(mpg ~ wt, data = mtcars), file.path(out, "lm.rds"))
cat("ok\n")
