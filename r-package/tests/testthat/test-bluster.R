test_that("ScLSTMParam is a BlusterParam that validates its arguments", {
    p <- ScLSTMParam(k = 3, seed = 2, n_steps = 10)
    expect_s4_class(p, "BlusterParam")
    expect_identical(p@k, 3L)
    expect_identical(p@seed, 2L)
    expect_output(show(p), "k: 3")
    expect_output(show(ScLSTMParam()), "k: estimated")
    expect_error(ScLSTMParam(k = "a"), "k must be NULL")
    # in runScLSTM()'s words (it used to be the class's validity error)
    expect_error(ScLSTMParam(k = 1),
                 "^k must be at least 2, got 1; leave k = NULL to estimate it\\.$")
    expect_error(ScLSTMParam(k = 0), "^k must be at least 2, got 0;")
    expect_error(ScLSTMParam(seed = NA), "seed must be")
})

test_that("clusterRows() with ScLSTMParam matches runScLSTM() on the same counts", {
    d <- load_dataset("blakeley")
    cells_by_genes <- Matrix::t(d$counts)
    p <- ScLSTMParam(k = 3, seed = 6, n_steps = test_steps(), batch_size = test_batch())
    cl <- bluster::clusterRows(cells_by_genes, p)
    ref <- run_fast(d$counts, k = 3, seed = 6)
    expect_true(is.factor(cl))
    expect_identical(unname(cl), unname(ref$clusters))
    expect_identical(names(cl), rownames(cells_by_genes)) # as KmeansParam()'s (before: none)

    full <- bluster::clusterRows(cells_by_genes, p, full = TRUE)
    expect_identical(full$clusters, cl)
    expect_identical(rownames(full$objects$embedding), rownames(cells_by_genes))
    expect_identical(as.integer(full$objects$details$n_clusters), 3L)
})

test_that("clusterRows() in labelled mode returns the predicted types with full = TRUE", {
    d <- load_dataset("biase")
    cells_by_genes <- Matrix::t(d$counts)
    known <- d$cell_type
    known[c(1, 10, 20)] <- NA
    p <- ScLSTMParam(seed = 0, labels = known, n_steps = test_steps(), batch_size = test_batch())
    full <- suppressMessages(bluster::clusterRows(cells_by_genes, p, full = TRUE))
    # they used to be dropped: objects had only the embedding and the details
    expect_identical(names(full$objects),
                     c("embedding", "details", "predicted", "predicted_confidence"))
    expect_true(is.factor(full$objects$predicted))
    expect_setequal(levels(full$objects$predicted), unique(d$cell_type))
    expect_identical(names(full$objects$predicted), rownames(cells_by_genes))
    expect_identical(names(full$objects$predicted_confidence), rownames(cells_by_genes))
    expect_true(all(full$objects$predicted_confidence >= 0 &
                    full$objects$predicted_confidence <= 1))
    expect_true(is.factor(full$clusters) && identical(names(full$clusters), rownames(cells_by_genes)))
})

test_that("ScLSTMParam refuses unnamed extra arguments; show() abbreviates long ones", {
    # an unnamed one used to reach the fit by position, as labels
    expect_error(ScLSTMParam(3, 1, 20), "arguments after k and seed must be named")
    expect_error(ScLSTMParam(k = 3, random_state = 2), "the seed as seed")
    expect_output(show(ScLSTMParam(k = 3, labels = letters, n_steps = 20)),
                  "extra: labels=<character of length 26>, n_steps=20")
})

test_that("clusterRows() with genes in rows: the error says how x was read", {
    d <- load_dataset("blakeley")
    p <- ScLSTMParam(k = 3, seed = 6, n_steps = test_steps(), batch_size = test_batch())
    expect_error(bluster::clusterRows(d$counts, p),
                 "clusters the rows of x: here 23794 cells in rows, 30 genes in columns; if the genes are the rows, pass t\\(x\\)")
})

test_that("ScLSTMParam() refuses an unknown or non-single argument when built, in R's words", {
    skip_if_no_sclstm()
    # it used to be built, and to fail only at clusterRows()
    valid <- setdiff(names(sclstmPython()$ScLSTM()$get_params()), c("n_clusters", "random_state", "mode"))
    expect_error(ScLSTMParam(k = 3, foo = 1, n_steps = 20),
                 paste0("^unknown argument 'foo'; ScLSTMParam\\(\\) takes k, seed, labels, save.model ",
                        "and the estimator's parameters: ", paste(valid, collapse = ", "), "\\.$"))
    expect_error(ScLSTMParam(k = 3, n_steps = NULL),
                 "^'n_steps' must be a single value, got NULL \\(leave it out for the default, 400\\)\\.$")
    expect_error(ScLSTMParam(k = 3, batch_size = 1:2),
                 "^'batch_size' must be a single value, got a numeric vector of length 2\\.$")
    # labels and save.model go to the run, not to the estimator: a vector is fine
    expect_s4_class(ScLSTMParam(k = 3, labels = letters, labelled_fraction = NULL), "ScLSTMParam")
})

test_that("clusterRows() says how it read x", {
    d <- load_dataset("blakeley")
    p <- ScLSTMParam(k = 3, seed = 6, n_steps = test_steps(), batch_size = test_batch())
    expect_message(full <- bluster::clusterRows(Matrix::t(d$counts), p, full = TRUE),
                   paste0("; read as cells x genes: 30 cells in rows, 23794 genes in columns ",
                          "\\(if the genes are the rows, pass t\\(x\\)\\)\\s*$"))
    expect_identical(full$objects$details$read_as,
                     "cells x genes: 30 cells in rows, 23794 genes in columns")
})

test_that("every argument is read and set with [[, so clusterSweep() sweeps the estimator's too", {
    # before (audit helper-59): "'n_steps' is not a slot in class ScLSTMParam"
    p <- ScLSTMParam(k = 3, n_steps = 10)
    expect_identical(p[["n_steps"]], 10)
    p[["n_steps"]] <- 12
    p[["k"]] <- 4
    expect_identical(p[["n_steps"]], 12)
    expect_identical(p[["k"]], 4L)
    expect_error(p[["k"]] <- 1, "^k must be at least 2")
    expect_error(p[["seed"]] <- -1, "seed must be")
    skip_if_no_sclstm()
    expect_error(p[["nsteps"]] <- 5, "nsteps")
    d <- load_dataset("blakeley")
    x <- t(as.matrix(d$counts))
    swept <- suppressMessages(bluster::clusterSweep(x, ScLSTMParam(k = 3, batch_size = test_batch()),
                                                    n_steps = c(5L, 6L)))
    expect_identical(ncol(swept$clusters), 2L)
    expect_identical(as.integer(swept$parameters$n_steps), c(5L, 6L))
})

test_that("clusterRows() warns of rows dropped as empty, whose clusters are NA", {
    d <- load_dataset("blakeley")
    x <- t(as.matrix(d$counts))
    x[2, ] <- 0
    expect_warning(cl <- suppressMessages(bluster::clusterRows(x, ScLSTMParam(k = 3, drop_empty = TRUE,
                                                                         n_steps = test_steps(),
                                                                         batch_size = test_batch()))),
                   "1 cell\\(s\\) .* dropped .*the rows of x whose clusters are not NA")
    expect_true(is.na(cl[2]) && !anyNA(cl[-2]))
})
