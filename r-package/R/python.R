# Finding the Python side, importing it lazily, and turning Python errors into R errors.

.sclstm_env <- new.env(parent = emptyenv())

# The oldest Python 'sclstm' this R package works with: read from the package's
# DESCRIPTION (field Config/sclstm/python), the single place where it is written.
.required_python_version <- function() {
    v <- tryCatch(
        utils::packageDescription("sclstm", fields = "Config/sclstm/python"),
        error = function(e) NA_character_
    )
    if (is.null(v) || is.na(v) || !nzchar(v)) "0.1.0" else trimws(v)
}

.install_hint <- function() {
    paste0(
        "Install the Python package from a source checkout into the Python that R should use ",
        "(`python -m pip install /path/to/sclstm`), or in the checkout run `make venv` and then, before loading ",
        "sclstm in a fresh R session, ",
        "Sys.setenv(SCLSTM_PYTHON = \"/path/to/sclstm/.venv/bin/python\") ",
        "(RETICULATE_PYTHON works too)."
    )
}

# Point reticulate at the right interpreter, once, before Python starts.
# Order: RETICULATE_PYTHON (reticulate honours it itself), SCLSTM_PYTHON, then
# reticulate's own discovery (which prefers a Python where 'sclstm' is installed,
# because .onLoad registers it as the delay-loaded module).
.configure_python <- function() {
    path <- Sys.getenv("SCLSTM_PYTHON")
    if (nzchar(Sys.getenv("RETICULATE_PYTHON"))) {
        return(invisible(NULL))
    }
    if (reticulate::py_available(initialize = FALSE)) {
        # too late to choose: remember an SCLSTM_PYTHON that lost, for the errors to name
        .sclstm_env$ignored_python <- if (.is_other_python(path, .python_path())) path
        return(invisible(NULL))
    }
    if (nzchar(path)) {
        if (!file.exists(path)) {
            stop("SCLSTM_PYTHON is set to '", path, "', but no such file exists. ",
                 .install_hint(), call. = FALSE)
        }
        reticulate::use_python(path, required = TRUE)
    }
    invisible(NULL)
}

# Is `path` (SCLSTM_PYTHON, "" when unset) set and another interpreter than `running`?
# Symbolic links are not followed: a virtual environment's python links to the system's,
# yet is another environment. The same folder's python and python3 are the same one.
.is_other_python <- function(path, running) {
    if (!nzchar(path)) {
        return(FALSE)
    }
    same_folder <- identical(normalizePath(dirname(path), mustWork = FALSE),
                             normalizePath(dirname(running), mustWork = FALSE))
    !(same_folder && (basename(path) == basename(running) ||
                      identical(normalizePath(path, mustWork = FALSE),
                                normalizePath(running, mustWork = FALSE))))
}

# Part of the errors about the Python found: why SCLSTM_PYTHON was not the one used, when
# Python had been started before sclstm could choose it (by another package, say).
.ignored_python_note <- function() {
    path <- .sclstm_env$ignored_python
    if (is.null(path)) {
        return("")
    }
    paste0("SCLSTM_PYTHON ('", path, "') was ignored because R had already started ",
           .python_path(), " (another package or a reticulate call started Python ",
           "first); restart R and load sclstm, with SCLSTM_PYTHON or RETICULATE_PYTHON ",
           "set, before anything starts Python. ")
}

.python_path <- function() {
    cfg <- tryCatch(reticulate::py_config(), error = function(e) NULL)
    if (is.null(cfg)) "none found" else cfg$python
}

.version_ok <- function(found, required) {
    release <- sub("[.]+$", "", sub("[^0-9.].*$", "", found)) # "0.2.0.dev1" -> "0.2.0"
    v <- tryCatch(numeric_version(release), error = function(e) NULL)
    !is.null(v) && v >= numeric_version(required)
}

#' Python module behind sclstm
#'
#' \code{sclstmPython()} returns the imported Python module \code{sclstm} (importing
#' it on first use), after checking that it is installed and recent enough and that
#' reticulate can pass it matrices (reticulate 1.28 cannot with numpy 2); the error
#' says what to install when it is not. \code{sclstmAvailable()} says whether that
#' would succeed, without raising an error.
#'
#' The Python interpreter is chosen the way R users expect: \env{RETICULATE_PYTHON}
#' if set; otherwise \env{SCLSTM_PYTHON} (path to a python executable, e.g.
#' \file{.venv/bin/python} of a source checkout after \code{make venv}); otherwise
#' reticulate's own discovery. Set these before Python is first used in the R session:
#' once another package has started Python, that interpreter stays, and an error about
#' it says when \env{SCLSTM_PYTHON} was ignored for that reason.
#'
#' @return \code{sclstmPython()}: the Python module (a reticulate object).
#'   \code{sclstmAvailable()}: \code{TRUE} or \code{FALSE}, with the reason as
#'   attribute \code{"reason"} when \code{FALSE}.
#' @examples
#' if (sclstmAvailable()) {
#'     sclstmPython()$`__version__`
#' }
#' @export
sclstmPython <- function() {
    if (!is.null(.sclstm_env$module)) {
        return(.sclstm_env$module)
    }
    required <- .required_python_version()
    .configure_python()
    found <- tryCatch(
        reticulate::py_module_available("sclstm"),
        error = function(e) {
            stop("Python could not be started (", conditionMessage(e), "). ",
                 .install_hint(), call. = FALSE)
        }
    )
    if (!isTRUE(found)) {
        stop("the Python module 'sclstm' (>= ", required, ") is not installed in the ",
             "Python that R uses (", .python_path(), "). ", .ignored_python_note(),
             .install_hint(), call. = FALSE)
    }
    mod <- tryCatch(reticulate::import("sclstm"), error = function(e) {
        stop("the Python module 'sclstm' failed to import in ", .python_path(), ": ",
             .clean_python_message(conditionMessage(e)), ". ", .ignored_python_note(),
             .install_hint(), call. = FALSE)
    })
    version <- tryCatch(as.character(mod$`__version__`), error = function(e) "unknown")
    if (!.version_ok(version, required) || !reticulate::py_has_attr(mod, "ScLSTM")) {
        stop("the Python module 'sclstm' in ", .python_path(), " is version ", version,
             ", but this R package needs >= ", required, ". ", .ignored_python_note(),
             "Upgrade it with `",
             .python_path(), " -m pip install --upgrade /path/to/sclstm` from an up-to-date ",
             "source checkout (or `make venv` there).", call. = FALSE)
    }
    .check_array_exchange()
    .sclstm_env$module <- mod
    mod
}

# reticulate converts R matrices to numpy arrays through numpy's C interface; an older
# reticulate (Debian 12's 1.28) cannot do so with numpy 2, and every run would fail later.
# `convert` is reticulate::r_to_py; the tests pass a failing one.
.check_array_exchange <- function(convert = reticulate::r_to_py) {
    problem <- tryCatch({
        convert(matrix(0, 1, 1))
        NULL
    }, error = function(e) .clean_python_message(conditionMessage(e)))
    if (!is.null(problem)) {
        numpy <- if (reticulate::py_available(initialize = FALSE)) {
            tryCatch(as.character(reticulate::import("numpy")$`__version__`), error = function(e) "?")
        } else "?"
        stop("reticulate ", as.character(utils::packageVersion("reticulate")),
             " cannot pass matrices to numpy ", numpy, " in ", .python_path(), " (", problem,
             "). Install numpy < 2 there (`", .python_path(), " -m pip install 'numpy<2'`) ",
             "or a reticulate recent enough for numpy 2.", call. = FALSE)
    }
    invisible(TRUE)
}

#' @rdname sclstmPython
#' @export
sclstmAvailable <- function() {
    res <- tryCatch({
        sclstmPython()
        TRUE
    }, error = function(e) structure(FALSE, reason = conditionMessage(e)))
    res
}

# One clean line from a Python exception message as reticulate reports it:
# "sclstm.validation.InputError: k is too large ...\n<traceback or hints>".
.clean_python_message <- function(msg) {
    lines <- trimws(strsplit(msg, "\n", fixed = TRUE)[[1]])
    lines <- lines[nzchar(lines)]
    hit <- grep("^([A-Za-z_][A-Za-z0-9_]*\\.)*InputError: ", lines, value = TRUE)
    if (length(hit)) {
        return(sub("^([A-Za-z_][A-Za-z0-9_]*\\.)*InputError: ", "", hit[length(hit)]))
    }
    hit <- grep("^([A-Za-z_][A-Za-z0-9_]*\\.)*[A-Za-z_]*(Error|Exception): ", lines,
                value = TRUE)
    if (length(hit)) {
        return(hit[length(hit)])
    }
    if (length(lines)) lines[1] else msg
}

# Python's advice in R's spelling: the option the message names is an argument of
# runScLSTM() here (drop_empty = TRUE, not drop_empty=True or --drop-empty; k, not
# n_clusters; NULL, not None; TRUE, not True; assay.type, not layer=; the NA rows R gives
# dropped cells, not NaN). Applied in this order.
.R_SPELLING <- c(
    "drop_empty=True (CLI: --drop-empty)" = "drop_empty = TRUE",
    "NaN embedding rows" = "NA embedding rows",
    "leave it out (None) to estimate it" = "leave k = NULL to estimate it",
    "n_clusters=" = "k = ",
    "n_clusters" = "k",
    "or None" = "or NULL",
    "must be True or False" = "must be TRUE or FALSE",
    "(e.g. layer='counts')" =
        paste0("(for a SingleCellExperiment, e.g. assay.type = \"counts\"; for a Seurat ",
               "object, an assay = whose counts slot holds the raw counts)")
)

.r_spelling <- function(line) {
    for (from in names(.R_SPELLING)) {
        line <- gsub(from, .R_SPELLING[[from]], line, fixed = TRUE)
    }
    # a Python tuple of choices: "one of ('auto', 'exact'), got" -> "one of 'auto', 'exact', got"
    line <- gsub("\\bone of \\(('[^()]*')\\), got\\b", "one of \\1, got", line, perl = TRUE)
    # the value a message quotes, when it is Python's True, False or None: R's TRUE, FALSE, NULL
    line <- gsub("\\bgot True\\b", "got TRUE", line, perl = TRUE)
    line <- gsub("\\bgot False\\b", "got FALSE", line, perl = TRUE)
    line <- gsub("\\bgot None\\b", "got NULL", line, perl = TRUE)
    # any other keyword advice: kernel='landmark' -> kernel = "landmark"
    gsub("\\b([A-Za-z_][A-Za-z0-9_]*)='([^']*)'", "\\1 = \"\\2\"", line, perl = TRUE)
}

# Python warnings raised while `expr` runs become R warning()s in R's spelling; left
# alone they reach R only as text on stderr, which suppressWarnings() cannot silence.
.with_python_warnings <- function(expr) {
    warnings <- reticulate::import("warnings", convert = FALSE)
    context <- warnings$catch_warnings(record = TRUE)
    record <- context$`__enter__`()
    exited <- FALSE
    on.exit(if (!exited) context$`__exit__`(NULL, NULL, NULL))
    # Python's own filters stay in force (DeprecationWarnings from libraries stay hidden);
    # entering catch_warnings resets the once-per-place registry, so a re-run warns again
    value <- expr
    context$`__exit__`(NULL, NULL, NULL)
    exited <- TRUE
    messages <- reticulate::iterate(record, function(w) reticulate::py_str(w$message),
                                    simplify = FALSE)
    for (msg in unique(unlist(messages))) {
        warning(.r_spelling(msg), call. = FALSE)
    }
    value
}

# Evaluate a call into Python; a Python exception becomes a one-line R error.
# Input errors (sclstm.validation.InputError) keep only their message; other Python
# errors keep their type and point at the traceback.
.py_call <- function(expr) {
    tryCatch(expr, error = function(e) {
        msg <- conditionMessage(e)
        line <- .r_spelling(.clean_python_message(msg))
        is_input <- grepl("InputError: ", msg, fixed = TRUE)
        if (!is_input && grepl("(Error|Exception): ", line)) {
            line <- paste0(line, " (Python error; reticulate::py_last_error() shows ",
                           "the traceback)")
        }
        cond <- structure(
            class = c(if (is_input) "sclstm_input_error", "sclstm_error", "error",
                      "condition"),
            list(message = line, call = NULL)
        )
        stop(cond)
    })
}
