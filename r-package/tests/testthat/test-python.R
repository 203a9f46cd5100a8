# How the Python side is found, and what the user is told when it is missing or too old.
# The missing/too-old cases run in a fresh R process (Python can start only once per
# process), so they need the package installed, as under R CMD check.

run_in_fresh_r <- function(code, env) {
    lib <- paste(.libPaths(), collapse = .Platform$path.sep)
    args <- c("-u", "RETICULATE_PYTHON", "-u", "SCLSTM_PYTHON", "-u", "PYTHONPATH",
              paste0("R_LIBS=", lib), env,
              file.path(R.home("bin"), "Rscript"), "--vanilla", "-e", shQuote(code))
    out <- suppressWarnings(system2("env", args, stdout = TRUE, stderr = TRUE))
    paste(out, collapse = "\n")
}

skip_if_not_installed_package <- function() {
    installed <- file.exists(file.path(.libPaths(), "sclstm", "Meta", "package.rds"))
    if (!any(installed)) {
        testthat::skip("sclstm is not installed (these run under R CMD check)")
    }
}

# A python that lacks the module: the system one, when it has no sclstm; NULL if none.
python_without_sclstm <- function() {
    candidates <- unique(Sys.which(c("python3", "python")))
    candidates <- c("/usr/bin/python3", candidates[nzchar(candidates)])
    lacking <- Filter(function(p) {
        file.exists(p) && system2(p, c("-c", shQuote("import sclstm")), stdout = FALSE,
                                  stderr = FALSE) != 0
    }, candidates)
    if (length(lacking)) lacking[[1]]
}

fit_snippet <- paste(
    "m <- matrix(rpois(400, 3), 20, 20)",
    "r <- tryCatch(sclstm::runScLSTM(m, k = 2), error = function(e) conditionMessage(e))",
    "cat('RESULT:', r, '\\n')",
    sep = "; "
)

test_that("SCLSTM_PYTHON pointing nowhere says what to install and how", {
    skip_if_not_installed_package()
    out <- run_in_fresh_r(fit_snippet, "SCLSTM_PYTHON=/nonexistent/bin/python")
    expect_match(out, "RESULT: SCLSTM_PYTHON is set to '/nonexistent/bin/python', but no such file")
    expect_match(out, "-m pip install /path/to/sclstm", fixed = TRUE)
    expect_match(out, "make venv", fixed = TRUE)
    expect_match(out, "Sys.setenv(SCLSTM_PYTHON", fixed = TRUE)
    # without Python, ScLSTMParam() is built; the names are checked at clusterRows()
    out <- run_in_fresh_r(paste(
        "p <- sclstm::ScLSTMParam(k = 2, foo = 1)", "cat('BUILT:', class(p), '\\n')",
        "r <- tryCatch(bluster::clusterRows(matrix(1, 4, 4), p), error = function(e) conditionMessage(e))",
        "cat('RESULT:', r, '\\n')", sep = "; "), "SCLSTM_PYTHON=/nonexistent/bin/python")
    expect_match(out, "BUILT: ScLSTMParam", fixed = TRUE)
    expect_match(out, "RESULT: SCLSTM_PYTHON is set to '/nonexistent/bin/python'", fixed = TRUE)
})

test_that("a Python without sclstm gives the install instructions", {
    skip_if_not_installed_package()
    lacking <- python_without_sclstm()
    if (is.null(lacking)) {
        testthat::skip("no Python without sclstm on this machine to test the message with")
    }
    out <- run_in_fresh_r(fit_snippet, paste0("SCLSTM_PYTHON=", lacking))
    expect_match(out, "RESULT: the Python module 'sclstm' \\(>= 0\\.1\\.0\\) is not installed")
    expect_match(out, lacking, fixed = TRUE)
    expect_no_match(out, "was ignored", fixed = TRUE) # SCLSTM_PYTHON was the one used
    expect_match(out, "-m pip install /path/to/sclstm", fixed = TRUE)
})

test_that("SCLSTM_PYTHON ignored because Python was already started: the error says so", {
    skip_if_not_installed_package()
    skip_if_no_sclstm()
    other <- python_without_sclstm()
    if (is.null(other)) {
        testthat::skip("no Python without sclstm on this machine to test the message with")
    }
    wanted <- reticulate::py_config()$python
    # another package starts Python first, with another interpreter; it used to say only
    # that sclstm is not installed there
    started_first <- sprintf("reticulate::use_python('%s', required = TRUE); %s; ", other,
                             "reticulate::py_run_string('x = 1')")
    out <- run_in_fresh_r(paste0(started_first, fit_snippet), paste0("SCLSTM_PYTHON=", wanted))
    expect_match(out, "is not installed in the Python that R uses", fixed = TRUE)
    expect_match(out, paste0("SCLSTM_PYTHON ('", wanted, "') was ignored because R had ",
                             "already started ", other), fixed = TRUE)
    expect_match(out, "restart R and load sclstm", fixed = TRUE)
})

test_that("SCLSTM_PYTHON names another interpreter only when it is in another place", {
    expect_false(sclstm:::.is_other_python("", "/usr/bin/python3"))
    expect_false(sclstm:::.is_other_python("/usr/bin/python3", "/usr/bin/python3"))
    expect_false(sclstm:::.is_other_python("/usr/bin//python3", "/usr/bin/python3"))
    # a virtual environment's python links to the system's, yet is another environment
    expect_true(sclstm:::.is_other_python("/opt/venv/bin/python", "/usr/bin/python3"))
})

test_that("a too old sclstm says which version is needed and how to upgrade", {
    skip_if_not_installed_package()
    skip_if_no_sclstm()
    fake <- file.path(tempdir(), "fake-old-sclstm")
    dir.create(file.path(fake, "sclstm"), recursive = TRUE, showWarnings = FALSE)
    writeLines("__version__ = '0.0.1'", file.path(fake, "sclstm", "__init__.py"))
    python <- reticulate::py_config()$python
    out <- run_in_fresh_r(fit_snippet, c(paste0("SCLSTM_PYTHON=", python),
                                         paste0("PYTHONPATH=", fake)))
    expect_match(out, "is version 0.0.1, but this R package needs >= 0.1.0", fixed = TRUE)
    expect_match(out, "-m pip install --upgrade /path/to/sclstm", fixed = TRUE)
})

test_that("SCLSTM_PYTHON selects the interpreter in a fresh session", {
    skip_if_not_installed_package()
    skip_if_no_sclstm()
    python <- reticulate::py_config()$python
    out <- run_in_fresh_r(paste(
        "ok <- sclstm::sclstmAvailable()",
        "cat('AVAILABLE:', ok, '\\n')",
        "cat('PYTHON:', reticulate::py_config()$python, '\\n')", sep = "; "),
        paste0("SCLSTM_PYTHON=", python))
    expect_match(out, "AVAILABLE: TRUE", fixed = TRUE)
    expect_match(out, paste("PYTHON:", python), fixed = TRUE)
})

test_that("Python error messages are reduced to one line", {
    msg <- paste0("sclstm.validation.InputError: n_clusters=40 is larger than the number ",
                  "of cells (30); choose k \u2264 30.\nRun `reticulate::py_last_error()` ",
                  "for details.")
    expect_identical(sclstm:::.clean_python_message(msg),
                     "n_clusters=40 is larger than the number of cells (30); choose k \u2264 30.")
    tb <- "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'a'\n"
    expect_identical(sclstm:::.clean_python_message(tb), "KeyError: 'a'")
    expect_true(sclstm:::.version_ok("0.1.0", "0.1.0"))
    expect_true(sclstm:::.version_ok("0.2.0.dev1", "0.1.0"))
    expect_false(sclstm:::.version_ok("0.0.9", "0.1.0"))
    expect_false(sclstm:::.version_ok("unknown", "0.1.0"))
})

test_that("Python's advice is rewritten in R's spelling", {
    expect_identical(
        sclstm:::.r_spelling("out of memory on cpu; the exact kernel (kernel='landmark' bounds it)"),
        "out of memory on cpu; the exact kernel (kernel = \"landmark\" bounds it)")
    expect_identical(sclstm:::.r_spelling("n_clusters=40 is larger than the number of cells (30)"),
                     "k = 40 is larger than the number of cells (30)")
    expect_identical(sclstm:::.r_spelling("device must be 'auto', 'cpu' or 'cuda', got 'gpu'."),
                     "device must be 'auto', 'cpu' or 'cuda', got 'gpu'.")  # quotes alone stay
    # Python's True, False, None and tuples of choices
    expect_identical(sclstm:::.r_spelling("fallback must be True or False, got None."),
                     "fallback must be TRUE or FALSE, got NULL.")
    expect_identical(sclstm:::.r_spelling("n_steps must be a positive whole number, got False."),
                     "n_steps must be a positive whole number, got FALSE.")
    expect_identical(sclstm:::.r_spelling("head must be one of ('absdiff', 'concat'), got 'x'."),
                     "head must be one of 'absdiff', 'concat', got 'x'.")
    expect_identical(sclstm:::.r_spelling("None of the genes"), "None of the genes") # prose stays
    # the rows R gives dropped cells are NA
    expect_identical(sclstm:::.r_spelling("(no cluster or type, NaN embedding rows)."),
                     "(no cluster or type, NA embedding rows).")
})

test_that("a Python whose numpy reticulate cannot use is refused up front, with the fix", {
    skip_if_no_sclstm()  # starts the right Python first: the message reads its path
    numpy2 <- function(x) stop("Required version of NumPy not available: incompatible NumPy binary version 33554432 (expecting version 16777225)")
    expect_error(sclstm:::.check_array_exchange(numpy2),
                 "cannot pass matrices to numpy .*incompatible NumPy binary version.*pip install 'numpy<2'")
    expect_true(sclstm:::.check_array_exchange(function(x) x))
})
