test_that("sclstmDemoData() is the Pollen counts, sparse and with names", {
    d <- load_dataset("pollen")
    sce <- sclstmDemoData()
    expect_s4_class(sce, "SingleCellExperiment")
    counts <- SummarizedExperiment::assay(sce, "counts")
    expect_s4_class(counts, "dgCMatrix")
    expect_identical(dim(sce), c(3000L, 299L))
    expect_identical(length(unique(sce$cell_type)), 11L)
    # A gene subset of the full Pollen file, counts unchanged, same cells and labels.
    expect_identical(colnames(sce), colnames(d$counts))
    expect_identical(sce$cell_type, d$cell_type)
    expect_true(all(rownames(sce) %in% rownames(d$counts)))
    expect_identical(counts, d$counts[rownames(sce), ])
})
