# The shared engine behind every runScLSTM() method: check the arguments, hand the
# counts to Python (sparse stays sparse), fit, and bring the results back with names.

.check_k <- function(k) {
    if (is.null(k)) {
        return(NULL)
    }
    if (!.is_whole_number(k)) {
        stop("k must be NULL (estimate the number of cell types) or a single whole ",
             "number, got ", paste(deparse(k), collapse = " "), ".", call. = FALSE)
    }
    # as Python says it (in R's words), so that runScLSTM() and ScLSTMParam() say the same
    if (k < 2) {
        stop("k must be at least 2, got ", k, "; leave k = NULL to estimate it.", call. = FALSE)
    }
    as.integer(k)
}

# One finite whole number that fits R's integer type (as.integer() turns larger ones,
# and Inf, into NA with only a warning).
.is_whole_number <- function(x) {
    is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) && x == round(x) &&
        abs(x) <= .Machine$integer.max
}

.check_seed <- function(seed) {
    if (!.is_whole_number(seed) || seed < 0) {
        stop("seed must be a single non-negative whole number, got ",
             paste(deparse(seed), collapse = " "), ".", call. = FALSE)
    }
    as.integer(seed)
}

# Extra arguments for the Python estimator: whole-number doubles become integers
# (R's 200 is Python's 200.0, which integer parameters such as n_steps reject).
.python_kwargs <- function(args) {
    lapply(args, function(a) {
        if (is.double(a) && length(a) == 1L && !is.na(a) && a == round(a) &&
            abs(a) < .Machine$integer.max) {
            as.integer(a)
        } else {
            a
        }
    })
}

# Counts to Python, cells × genes. `counts` is genes × cells (the R convention) when
# cells_in_columns is TRUE. A dgCMatrix becomes a scipy.sparse.csc_matrix and its
# transpose ($T) is taken in Python, which copies nothing; other sparse classes are
# turned into a dgCMatrix first. Dense matrices go as numpy arrays.
.counts_to_python <- function(counts, cells_in_columns = TRUE) {
    if (is.logical(counts) || is(counts, "lMatrix") || is(counts, "nMatrix")) {
        # before: a sparse TRUE/FALSE matrix became 0/1 and was clustered as counts
        stop("the counts must be numeric, got a logical (TRUE/FALSE) matrix; pass the counts themselves.",
             call. = FALSE)
    }
    if (is(counts, "sparseMatrix") || is(counts, "Matrix")) {
        if (!is(counts, "dgCMatrix")) {
            counts <- as(as(as(counts, "CsparseMatrix"), "generalMatrix"), "dMatrix")
        }
    } else if (is.data.frame(counts)) {
        counts <- as.matrix(counts)
    } else if (!is.matrix(counts)) {
        # e.g. a DelayedMatrix: keep it sparse when it can be.
        counts <- tryCatch(as(counts, "dgCMatrix"), error = function(e) as.matrix(counts))
    }
    if (is.matrix(counts) && !(is.numeric(counts))) {
        stop("the counts must be numeric, got a matrix of type '", typeof(counts), "'.",
             call. = FALSE)
    }
    .check_no_na(counts, cells_in_columns)
    if (is.matrix(counts) && is.integer(counts)) {
        storage.mode(counts) <- "double"
    }
    py <- reticulate::r_to_py(counts)
    if (cells_in_columns) py$T else py
}

# NA (and NaN) in the counts, in R's words: Python would call them "NaN or infinite values".
# Counted, and the first cell holding one named (its name, else its 1-based position), as
# Python names it. Cheap: a sparse matrix is checked on its stored values only.
.check_no_na <- function(counts, cells_in_columns = TRUE) {
    sparse <- is(counts, "dgCMatrix")
    bad <- which(is.na(if (sparse) counts@x else counts))
    if (!length(bad)) {
        return(invisible())
    }
    cell <- if (sparse && cells_in_columns) {
        findInterval(bad[1] - 1, counts@p)  # the column holding the first stored NA
    } else if (sparse) {
        min(counts@i[bad]) + 1L
    } else {
        min(arrayInd(bad, dim(counts))[, if (cells_in_columns) 2L else 1L])
    }
    name <- dimnames(counts)[[if (cells_in_columns) 2L else 1L]][cell]
    stop("the counts have ", length(bad), " NA/NaN value(s) (the first in cell ",
         if (is.null(name) || is.na(name)) cell else paste0("'", name, "'"),
         "); remove or impute them first.", call. = FALSE)
}

# Names to give Python for the cells (or genes): `names` when there are such, and unique
# (a name must say which one it means), else R's 1-based positions. Python's messages name
# cells by these ("e.g. GSM1377863"); given no names, it would count from 0.
.names_for_python <- function(names, n) {
    if (is.null(names) || anyNA(names) || anyDuplicated(names)) {
        as.character(seq_len(n))
    } else {
        as.character(names)
    }
}

# Counts to Python as an AnnData, cells × genes, whose obs and var names are the cells' and
# genes' (.names_for_python()), so that Python's errors name cells as R does. X is the
# matrix .counts_to_python() gives (still sparse where the counts are), not a copy.
.counts_to_anndata <- function(counts, cells_in_columns = TRUE) {
    X <- .counts_to_python(counts, cells_in_columns = cells_in_columns)
    cell_dim <- if (cells_in_columns) 2L else 1L
    gene_dim <- 3L - cell_dim
    .anndata_of(X, .names_for_python(dimnames(counts)[[cell_dim]], dim(counts)[cell_dim]),
                .names_for_python(dimnames(counts)[[gene_dim]], dim(counts)[gene_dim]))
}

.anndata_of <- function(X, cells, genes) {
    anndata <- reticulate::import("anndata", convert = FALSE)
    pd <- reticulate::import("pandas", convert = FALSE)
    anndata$AnnData(X = X, obs = pd$DataFrame(index = pd$Index(as.list(cells))),
                    var = pd$DataFrame(index = pd$Index(as.list(genes))))
}

# Arguments in ... must be named: an unnamed one would otherwise be taken by position
# (as labels, for instance). `after` names the arguments that come before them.
.check_named <- function(extra, after = "k, seed and labels") {
    nm <- names(extra)
    if (length(extra) && (is.null(nm) || any(!nzchar(nm)))) {
        stop("arguments after ", after, " must be named (e.g. n_steps = 200).", call. = FALSE)
    }
    invisible()
}

# Estimator parameters that runScLSTM() and ScLSTMParam() set from their own arguments.
.SET_BY_R <- c("n_clusters", "random_state", "mode")

.check_no_clash <- function(extra) {
    clash <- intersect(names(extra), c(.SET_BY_R, "X"))
    if (length(clash)) {
        stop("pass the number of clusters as k, the seed as seed and labels as labels ",
             "(the mode follows from labels), not as ", paste(clash, collapse = ", "), ".",
             call. = FALSE)
    }
    invisible()
}

# What each caller takes in `...` besides the estimator's parameters: `after` names the
# arguments before them (for the error about an unnamed one), `also` the arguments passed
# on to .run_core() rather than to Python, which checks them itself (labels, save.model).
.EXTRA_ARGUMENTS <- list(
    "runScLSTM()" = list(after = "k, seed and labels", also = "save.model"),
    "ScLSTMParam()" = list(after = "k and seed", also = c("labels", "save.model"))
)

# Each runScLSTM() method's own arguments (besides k, seed, labels and those in `...`), by
# the kind of object it is for; and, for an argument of one kind, what the other calls it.
.METHOD_ARGUMENTS <- list(
    "SingleCellExperiment" = c("assay.type", "verbose"),
    "Seurat object" = c("assay", "set.ident", "reduction.name", "reduction.key", "verbose"),
    "matrix" = "verbose"
)
.ANALOGUE <- c(assay = "assay.type", assay.type = "assay")

# The unknown arguments that are another method's own: for each, which kind of object it
# is for, and what `object`'s method calls it if it has the like.
.other_method_hints <- function(unknown, object) {
    if (is.null(object)) {
        return(character(0))
    }
    own <- .METHOD_ARGUMENTS[[object]]
    unlist(lapply(unknown, function(name) {
        kinds <- names(.METHOD_ARGUMENTS)[vapply(.METHOD_ARGUMENTS, function(a) name %in% a,
                                                 logical(1))]
        if (!length(kinds)) {
            return(NULL)
        }
        like <- .ANALOGUE[name]
        paste0(name, " is for a ", paste(kinds, collapse = " or "),
               if (!is.na(like) && like %in% own) {
                   paste0("; for a ", object, ", use ", like, " =")
               })
    }))
}

# A whole number too large for R's integer type, for a parameter Python takes as an integer
# (its default is one): .python_kwargs() could not make it an integer, and Python would refuse
# it in its own words ("got 10000000000.0"). The problem, or NULL.
.integer_range_problem <- function(name, value, defaults) {
    default <- if (!is.null(defaults) && name %in% names(defaults)) defaults[[name]]
    if (!(is.integer(default) && is.double(value) && length(value) == 1L && !is.na(value))) {
        return(NULL)
    }
    if (is.infinite(value)) {
        return(paste0("'", name, "' must be a whole number, got ", .describe_value(value)))
    }
    if (value != round(value) || abs(value) <= .Machine$integer.max) {
        return(NULL)
    }
    paste0(name, " = ", .describe_value(value), " is too ",
           if (value > 0) "large" else "small", ": whole-number parameters must be ",
           if (value > 0) "at most .Machine$integer.max (" else
               "at least -.Machine$integer.max (-", .Machine$integer.max, ")")
}

# The estimator's parameters and their defaults, as Python lists them (ScLSTM().get_params()),
# so that R holds no copy of the list.
.estimator_defaults <- function(sclstm) {
    .to_r(sclstm$ScLSTM()$get_params())
}

# A value in R's words, for errors: NULL, NA, "a numeric vector of length 2".
.describe_value <- function(value) {
    if (is.null(value)) {
        "NULL"
    } else if (is.atomic(value) && length(value) == 1L) {
        if (is.integer(value) && !is.na(value)) as.character(value) # 400, not 400L
        else paste(deparse(value), collapse = " ")
    } else if (is.atomic(value)) {
        kind <- if (is.factor(value)) "factor" else if (is.character(value)) "character"
            else if (is.logical(value)) "logical" else if (is.numeric(value)) "numeric"
            else typeof(value)
        sprintf("a %s vector of length %d", kind, length(value))
    } else if (is.list(value) && !is.object(value)) {
        sprintf("a list of length %d", length(value))
    } else {
        sprintf("an object of class '%s'", class(value)[1])
    }
}

# Every parameter of the Python estimator is a single value (a number, a string, TRUE or
# FALSE); NULL only where its default is None (labelled_fraction), which says "not set".
# The problem with `value` for the parameter `name`, or NULL. `defaults` NULL (Python not
# available yet): whether NULL is allowed is left to the fit.
.single_value_problem <- function(name, value, defaults) {
    known <- !is.null(defaults) && name %in% names(defaults)
    default <- if (known) defaults[[name]]
    if (is.null(value) && (!known || is.null(default))) {
        return(NULL)
    }
    if (!is.null(value) && is.atomic(value) && length(value) == 1L && !is.na(value)) {
        return(NULL)
    }
    missing <- is.null(value) || (is.atomic(value) && length(value) == 1L)
    paste0("'", name, "' must be a single value, got ", .describe_value(value),
           if (missing && known) {
               paste0(" (leave it out for the default, ", .describe_value(default), ")")
           })
}

# Arguments in ... go to the Python estimator by name, checked in R before any work, so
# that a mistake is an R error in R's words rather than a Python TypeError or a message
# with Python's values ("got None", "got [10.0, 20.0]"): each named, once; not one of
# those set from k, seed and labels; a parameter of the estimator (the names come from
# Python) or one of the caller's own (.EXTRA_ARGUMENTS); and a single value each. `caller`
# words the errors. With `sclstm` NULL (Python not available: ScLSTMParam() built before it
# is), only what R can check alone; the rest waits for the fit.
# `object` (a name of .METHOD_ARGUMENTS, or NULL) is the kind of object a runScLSTM() method
# was given: the error about an unknown argument lists that method's own arguments too.
.check_estimator_arguments <- function(extra, caller = "runScLSTM()", sclstm = sclstmPython(),
                                       object = NULL) {
    spec <- .EXTRA_ARGUMENTS[[caller]]
    .check_named(extra, after = spec$after)
    if (!length(extra)) {
        return(invisible())
    }
    .check_no_clash(extra)
    nm <- names(extra)
    twice <- unique(nm[duplicated(nm)])
    if (length(twice)) {
        stop(paste0("'", twice, "'", collapse = ", "), " given more than once; give each ",
             "argument once.", call. = FALSE)
    }
    defaults <- if (!is.null(sclstm)) .estimator_defaults(sclstm)
    if (!is.null(defaults)) {
        valid <- setdiff(names(defaults), .SET_BY_R)
        unknown <- setdiff(nm, c(valid, spec$also))
        if (length(unknown)) {
            hints <- .other_method_hints(unknown, object)
            own <- if (!is.null(object)) .METHOD_ARGUMENTS[[object]]
            stop("unknown argument", if (length(unknown) > 1) "s", " ",
                 paste0("'", unknown, "'", collapse = ", "),
                 if (length(hints)) paste0(" (", paste(hints, collapse = "; "), ")"), "; ",
                 caller, if (!is.null(object)) paste0(" on a ", object), " takes ",
                 paste(c("k", "seed", "labels", "save.model", own), collapse = ", "),
                 " and the estimator's parameters: ", paste(valid, collapse = ", "), ".",
                 call. = FALSE)
        }
    }
    to_python <- setdiff(nm, spec$also)
    problems <- unlist(lapply(to_python, function(name) {
        c(.single_value_problem(name, extra[[name]], defaults),
          .integer_range_problem(name, extra[[name]], defaults))
    }))
    if (length(problems)) {
        stop(paste(problems, collapse = "; "), ".", call. = FALSE)
    }
    invisible()
}

# A named labels vector is matched to the cells by name, as AddMetaData() does, so that
# labels in another order are not silently given to the wrong cells; an unnamed one is
# taken in the cells' order.
.labels_in_cell_order <- function(labels, cell_names) {
    nm <- names(labels)
    if (is.null(labels) || is.null(nm) || all(nm == "")) {
        return(labels)
    }
    if (is.null(cell_names) || anyDuplicated(nm) || !setequal(nm, cell_names)) {
        missing <- setdiff(cell_names, nm)
        stop("labels is a named vector but its names are not the cells' names",
             if (length(missing)) paste0(" (no label named ", paste(utils::head(missing, 3),
                                                                  collapse = ", "),
                                         if (length(missing) > 3) ", ...", ")"),
             "; name it by the cells (colnames) or pass unname(labels) to use the ",
             "cells' order.", call. = FALSE)
    }
    labels[cell_names]
}

# The Python side writes a one-line note (kernel chosen, estimated memory) to its own
# stderr, which suppressMessages() cannot reach. From R the note (est$kernel_note_) is an
# R message() instead: this raises the Python "sclstm" logger to WARNING and returns the call that
# puts its level back, for the caller's on.exit().
.silence_python_notes <- function() {
    logging <- reticulate::import("logging")
    logger <- logging$getLogger("sclstm")
    old <- logger$level
    logger$setLevel(logging$WARNING)
    invisible(function() logger$setLevel(old))
}

# Labels for the labelled mode: a Python list, None where the label is NA.
.labels_to_python <- function(labels) {
    if (is.list(labels)) {  # before: R's "unimplemented type 'list'", after the whole fit
        stop("labels must be a vector or factor (one label per cell), got a list; unlist() it first.",
             call. = FALSE)
    }
    if (is.factor(labels)) {
        labels <- as.character(labels)
    }
    # as Python refuses them: sent as text, fractional numbers would each be a class
    fractional <- if (is.numeric(labels)) labels[is.finite(labels) & labels != round(labels)]
    if (length(fractional)) {
        stop("labels look continuous (", length(fractional), " fractional values, e.g. ",
             fractional[1], "); give cell types as names or whole-number codes.", call. = FALSE)
    }
    out <- as.list(.class_names(labels))
    out[is.na(labels)] <- list(NULL)
    reticulate::r_to_py(out)
}

# Classes (or labels) as text: whole numbers as such ("100000", where as.character() gives
# "1e+05"; a model fitted in Python on integer codes keeps them as numbers).
.class_names <- function(classes) {
    classes <- unlist(classes)
    if (is.numeric(classes)) {
        whole <- is.finite(classes) & classes == round(classes)
        out <- as.character(classes)
        out[whole] <- sprintf("%.0f", classes[whole])
        return(out)
    }
    as.character(classes)
}

# The predicted classes in R's order: a factor's own levels, else the order factor() gives
# (numbers by value: "2" before "10"). Python sorts them as text ("PE" before "epiblast").
.class_levels <- function(labels, classes) {
    r_order <- levels(if (is.factor(labels)) labels else factor(labels))
    c(intersect(r_order, classes), setdiff(classes, r_order))
}

# The key of a saved model's summary under which runScLSTM() records the order of its
# predicted levels (.class_levels()), so that applyScLSTM() gives the same levels.
.R_CLASS_LEVELS <- "r_class_levels"

# The levels of a saved model's predicted types: all its classes, in the order runScLSTM()
# gave them when it saved the model, or (a model saved by Python's sclstm cluster or
# tl.sclstm) the labels column's categories recorded under "class_levels", unused ones
# kept as a factor keeps them; else the model's own order.
.model_class_levels <- function(est, classes) {
    summary <- .to_r(reticulate::py_get_attr(est, "summary_"))
    for (key in c(.R_CLASS_LEVELS, "class_levels")) {
        recorded <- if (!is.null(summary[[key]])) as.character(unlist(summary[[key]]))
        if (length(recorded) && !anyDuplicated(recorded) && all(classes %in% recorded)) {
            return(recorded)
        }
    }
    classes
}

# A message of sclstm's (class sclstm_note), which .with_orientation_hint() can complete.
# A single TRUE or FALSE (drop_empty, verbose), or an error naming the argument.
.check_flag <- function(value, name) {
    if (!(is.logical(value) && length(value) == 1L && !is.na(value))) {
        stop(name, " must be TRUE or FALSE.", call. = FALSE)
    }
    invisible(value)
}

.note <- function(text) {
    structure(class = c("sclstm_note", "message", "condition"),
              list(message = paste0(text, "\n"), call = NULL))
}

# For a matrix, whose orientation is the caller's choice and which nothing in it tells:
# the run's note says how it was read (`read_as`, e.g. "genes x cells: 30 genes in rows,
# 100 cells in columns (if ...)"), so that a transposed matrix whose fit succeeds (its genes
# clustered) does not pass silently; and an input error about the cells also says how x
# was read (`hint`: all-zero "cells" are usually genes of a transposed matrix, and
# drop_empty = TRUE would then cluster the genes).
.with_orientation_hint <- function(expr, hint, read_as = NULL) {
    withCallingHandlers(
        tryCatch(expr, sclstm_input_error = function(e) {
            # (not to an error about the labels, which name cells too: the matrix is not the cause)
            if (grepl("\\bcells?\\b", conditionMessage(e)) && !grepl("label", conditionMessage(e))) {
                e$message <- paste0(sub("[.]$", "", conditionMessage(e)), " (", hint, ").")
            }
            stop(e)
        }),
        sclstm_note = function(m) {
            if (!is.null(read_as)) {
                message(.note(paste0(sub("\n$", "", conditionMessage(m)), "; read as ",
                                     read_as)))
                invokeRestart("muffleMessage")
            }
        })
}

# Python lists of scalars come back as R lists; make them vectors where possible.
.simplify <- function(x) {
    if (is.list(x) && !is.data.frame(x)) {
        x <- lapply(x, .simplify)
        if (length(x) && all(vapply(x, function(e) is.atomic(e) && length(e) == 1L,
                                    logical(1)))) {
            types <- unique(vapply(x, typeof, character(1)))
            if (length(types) == 1L || all(types %in% c("integer", "double"))) {
                nm <- names(x)
                x <- unlist(x, use.names = FALSE)
                names(x) <- nm
            }
        }
    }
    x
}

# Python attributes arrive converted (the module is imported with convert = TRUE);
# convert whatever is still a Python object.
.to_r <- function(x) {
    if (inherits(x, "python.builtin.object")) reticulate::py_to_r(x) else x
}

#' @importFrom methods is as new setClass setGeneric setMethod setValidity
#'   validObject slot
#' @importClassesFrom Matrix Matrix sparseMatrix CsparseMatrix generalMatrix dMatrix
#'   dgCMatrix
NULL

# drop_empty = TRUE: the dropped cells' embedding rows are NA, which Seurat's FindNeighbors()
# reads without a word (the NA cell became every cell's neighbour, and FindClusters() mixed the
# clusters), and RunUMAP() and bluster refuse: said when it happens, with the subset to take.
.warn_na_rows <- function(n_dropped, keep) {
    if (n_dropped > 0L) {
        warning(n_dropped, " cell(s) without counts in the genes read were dropped (drop_empty = TRUE): ",
                "their embedding rows are NA, which FindNeighbors() and RunUMAP() (and bluster) ",
                "read wrongly or refuse; keep the other cells first", keep, ".", call. = FALSE)
    }
    invisible()
}

# save.model: NULL, or a .pt file in an existing folder; checked before the fit, which
# takes minutes. Returned with ~ expanded.
.check_model_path <- function(path) {
    if (is.null(path)) {
        return(NULL)
    }
    if (!(is.character(path) && length(path) == 1L && !is.na(path) && nzchar(path))) {
        stop("save.model must be NULL or one file name, got ",
             paste(deparse(path), collapse = " "), ".", call. = FALSE)
    }
    path <- path.expand(path)
    if (!grepl("[.]pt$", path, ignore.case = TRUE)) {
        stop("save.model = '", path, "': name the model file with the .pt suffix ",
             "(a torch file).", call. = FALSE)
    }
    if (!dir.exists(dirname(path))) {
        stop("save.model = '", path, "': the folder '", dirname(path), "' does not exist.",
             call. = FALSE)
    }
    # the model is written beside the path and renamed onto it: the folder must take a new
    # file, and a read-only model file is not replaced (before: found by save() after the
    # whole fit). Python's check, which tries the folder by making a file (file.access()
    # says every folder is writable on Windows).
    .py_call(sclstmPython()$io$`_files`$check_replaceable(path, paste0("save.model = '", path, "'")))
    path
}

# save.model: the saved model records the genes' names so that applyScLSTM() matches new
# counts to them by name. Checked before the fit: duplicated names cannot be matched (an
# error naming them); without names the model can only match by position (a warning).
# `where` says where the names are ("row names" of genes x cells counts).
.check_model_genes <- function(genes, where = "row names") {
    if (is.null(genes)) {
        warning("save.model: the counts have no gene names (", where, "), so the saved model ",
                "has none and applyScLSTM() will match genes by position: new counts must then ",
                "hold the same genes in the same order. Give the counts ", where, " (gene names) ",
                "to match genes by name.", call. = FALSE)
        return(invisible())
    }
    dup <- unique(genes[duplicated(genes)])
    if (length(dup)) {
        stop("save.model: the gene names (", where, ") are not unique (",
             paste0("'", utils::head(dup, 3), "'", collapse = ", "),
             if (length(dup) > 3) paste0(" and ", length(dup) - 3, " more"),
             "); applyScLSTM() matches genes to the saved model by name, so make them ",
             "unique first (e.g. with make.unique()).", call. = FALSE)
    }
    invisible()
}

# Fit ScLSTM on `counts` and return clusters (factor "0".."k-1" named by cell),
# embedding (cells × d, rownames = cells) and details (the Python summary_); in
# labelled mode also predicted (factor of classes named by cell: the class head's
# prediction for every cell) and predicted_confidence (its probability).
# `...` are the estimator's parameters, which the callers check with
# .check_estimator_arguments() before any work: there, a name such as cells_in_columns
# is refused, which here would silently become .run_core()'s own argument.
.run_core <- function(counts, k = NULL, seed = 0, labels = NULL, ..., save.model = NULL,
                      cells_in_columns = TRUE, verbose = TRUE) {
    k <- .check_k(k)
    .check_flag(verbose, "verbose")
    seed <- .check_seed(seed)
    save.model <- .check_model_path(save.model)
    extra <- list(...)
    cell_names <- if (cells_in_columns) colnames(counts) else rownames(counts)
    n_cells <- if (cells_in_columns) ncol(counts) else nrow(counts)
    if (!is.null(labels) && length(labels) != n_cells) {
        stop("labels has length ", length(labels), " but there are ", n_cells,
             " cells; give one label per cell (NA for the cells to predict).",
             call. = FALSE)
    }
    labels <- .labels_in_cell_order(labels, cell_names)
    if (is.null(labels) && !is.null(extra$labelled_fraction)) {
        stop("labelled_fraction applies only with labels = (the labelled mode, which trains ",
             "on that fraction of the known labels); without labels the run is unsupervised.",
             call. = FALSE)
    }
    sclstm <- sclstmPython()
    extra <- .python_kwargs(extra)
    genes <- if (cells_in_columns) rownames(counts) else colnames(counts)
    if (!is.null(save.model)) {
        .check_model_genes(genes, if (cells_in_columns) "row names" else "column names")
    }
    # an AnnData named as in R, so that Python's errors name the cells by their names
    X <- .counts_to_anndata(counts, cells_in_columns = cells_in_columns)
    mode <- if (is.null(labels)) "unsupervised" else "labelled"
    if (is.null(extra$progress)) {
        extra$progress <- FALSE
    }
    kwargs <- c(list(n_clusters = k, mode = mode, random_state = seed), extra)
    est <- .py_call(do.call(sclstm$ScLSTM, kwargs))
    py_labels <- if (is.null(labels)) NULL else .labels_to_python(labels)
    restore_log <- .silence_python_notes()
    on.exit(restore_log(), add = TRUE)
    .with_python_warnings(.py_call(est$fit(X, labels = py_labels)))

    n_clusters <- as.integer(.to_r(est$n_clusters_))
    codes <- as.integer(.to_r(est$labels_))
    # With drop_empty = TRUE the Python side drops all-zero cells; they get NA here.
    kept <- if (reticulate::py_has_attr(est, "kept_cells_")) as.logical(.to_r(est$kept_cells_))
    if (is.null(kept) || length(kept) != n_cells) kept <- rep(TRUE, n_cells)
    if (length(codes) != sum(kept)) {
        stop("the Python side returned ", length(codes), " labels for ", sum(kept),
             " cells.", call. = FALSE)
    }
    levels <- as.character(seq_len(max(n_clusters, max(codes) + 1L)) - 1L)
    all_codes <- rep(NA_integer_, n_cells)
    all_codes[kept] <- codes
    clusters <- factor(as.character(all_codes), levels = levels)
    names(clusters) <- cell_names

    emb <- .to_r(est$embedding_)
    embedding <- matrix(NA_real_, nrow = n_cells, ncol = ncol(emb))
    embedding[kept, ] <- as.double(emb)
    dimnames(embedding) <- list(cell_names, paste0("SCLSTM_", seq_len(ncol(emb))))

    details <- .simplify(.to_r(est$summary_))
    mask <- .to_r(est$labelled_mask_)
    if (!is.null(mask)) {
        full_mask <- rep(FALSE, n_cells)
        full_mask[kept] <- as.logical(mask)
        names(full_mask) <- cell_names
        details$labelled_mask <- full_mask
    }
    details$r_package_version <- as.character(utils::packageVersion("sclstm"))
    predicted_kept <- .to_r(est$predicted_labels_)
    classes <- if (!is.null(predicted_kept)) {
        .class_levels(labels, .class_names(.to_r(est$classes_)))
    }
    # the genes' names the model keeps, so that applyScLSTM() matches new data to them by
    # name: the counts' own names; none where they have none (the AnnData's are then
    # positions, which must not be matched as names) or, without save.model, duplicated ones
    # (.check_model_genes() refuses them with save.model)
    reticulate::py_set_attr(est, "gene_names_", if (!is.null(genes) && !anyDuplicated(genes)) {
        reticulate::import("numpy", convert = FALSE)$asarray(as.character(genes))
    })
    if (!is.null(save.model)) {
        # and the order of the predicted levels here, which applyScLSTM() gives too
        if (!is.null(classes)) {
            reticulate::py_set_item(reticulate::py_get_attr(est, "summary_"),
                                    .R_CLASS_LEVELS, reticulate::r_to_py(as.list(classes)))
        }
        .py_call(est$save(save.model))
        details$model_file <- save.model
    }
    if (verbose) {
        message(.note(.to_r(est$kernel_note_)))
    }
    out <- list(clusters = clusters, embedding = embedding, details = details)
    if (!is.null(mask)) {
        out$labelled <- details$labelled_mask # the cells whose labels the fit used
    }
    if (!is.null(predicted_kept)) {
        predicted <- rep(NA_character_, n_cells)
        predicted[kept] <- as.character(unlist(predicted_kept))
        out$predicted <- stats::setNames(factor(predicted, levels = classes), cell_names)
        confidence <- rep(NA_real_, n_cells)
        confidence[kept] <- as.double(.to_r(est$predicted_confidence_))
        out$predicted_confidence <- stats::setNames(confidence, cell_names)
    }
    out
}
