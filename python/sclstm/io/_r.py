"""R data files (.rds / .RData) ↔ AnnData through rpy2, exactly and without dense copies.

The conversion is done here with rpy2's low-level interface, not with anndata2ri: R's
``dgCMatrix`` slots ``i`` / ``p`` / ``x`` of a genes × cells matrix are, unchanged, the
``indices`` / ``indptr`` / ``data`` of the cells × genes CSR matrix, so sparse data cross
the boundary as three flat vectors (one copy each, never dense). Objects are taken apart
by small R functions defined below (slots and documented accessors) and rebuilt on the
other side, so a Seurat object converts whether or not Seurat is attached.

Mapping (R → Python; the inverse on writing):

- SingleCellExperiment / SummarizedExperiment: the ``counts`` assay (or the first, or
  ``assay=``) → X, other assays → layers, colData → obs, rowData → var, reducedDims →
  obsm (``"PCA"`` → ``"X_pca"``), colPairs → obsp (sparse), metadata → uns.
- Seurat (v3/v4 assays): counts of the default assay (or ``assay=``) → X, ``data`` (when
  it differs from counts) and ``scale.data`` (when it covers every gene; otherwise
  ``obsm["scale.data"]``, a DataFrame over the scaled genes) → layers, meta.data → obs,
  meta.features → var, variable features → ``var["highly_variable"]``, reductions →
  obsm (``"pca"`` → ``"X_pca"``), graphs → obsp, misc → uns, the active identities →
  ``obs["ident"]`` unless a meta.data column already holds them, in the same level order (``obs["active.ident"]`` when
  meta.data has another column ``ident``). meta.data rows are matched to cells by name. Other
  assays are not converted (a warning names them). ``uns["sclstm_source"]`` records what
  :func:`write_rds` needs to give parts their R names back: the assay X came from, that
  ``layers["data"]`` is the data slot (Bioconductor's ``logcounts``), and the meta.data column
  holding the identities.
- NA in a matrix: NaN (integer and logical matrices become float64), with a warning.
- dgCMatrix (and other sparse Matrix classes), numeric matrix, numeric data.frame: genes ×
  cells (R's convention), transposed to cells × genes; ``genes_by_cells=False`` when rows
  are cells (without ``genes_by_cells`` a warning says which way the matrix was read).
- Columns: factor ↔ categorical (levels, order and NA kept), logical ↔ bool (``boolean``
  with NA), integer ↔ int32 (``Int32`` with NA), double ↔ float64, character ↔ object
  strings (NA ↔ NaN). R has no float32 or int64: they become double / integer (int64
  out of the int32 range: double).
- ScLSTM results: ``obs["sclstm"]`` ↔ colData / meta.data ``sclstm_clusters`` (the R
  package's name), ``obsm["X_sclstm"]`` ↔ reducedDim ``"SCLSTM"`` / DimReduc ``"sclstm"``
  (key ``"SCLSTM_"``; written reducedDim columns are named ``SCLSTM_1``, … as the R package
  names them), ``uns["sclstm"]`` ↔ ``metadata(sce)$sclstm`` / ``obj@misc$sclstm`` (written
  to the ``"sclstm"`` DimReduc's misc as well, as the R package does; read from there when
  ``obj@misc`` lacks it, as objects from older R package versions do).
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import re
import signal
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..signals import handling
from ..validation import InputError, check_sparse_structure, first_line, label_text, warn_user
from ._files import check_folder, check_names_for_r, written_beside

__all__ = ["read_rds", "read_rdata", "write_rds"]

_INSTALL = (
    "install rpy2 into this Python with pip install 'rpy2>=3.5' (with R older than 4.5: "
    "'rpy2>=3.5,<3.6', after pip uninstall -y rpy2 rpy2-rinterface rpy2-robjects if a newer one is there) "
    "and R itself "
    "(Debian: apt-get install r-base-core r-bioc-singlecellexperiment r-cran-seuratobject, "
    "or bash scripts/install-r.sh)"
)
_DEBIAN = {
    "SingleCellExperiment": "r-bioc-singlecellexperiment",
    "SummarizedExperiment": "r-bioc-summarizedexperiment",
    "S4Vectors": "r-bioc-s4vectors",
    "SeuratObject": "r-cran-seuratobject",
    "Seurat": "r-cran-seurat",
    "Matrix": "r-cran-matrix",
    "DelayedArray": "r-bioc-delayedarray",
}
_NA_INT = np.iinfo(np.int32).min
_CLUSTERS_PY, _CLUSTERS_R = "sclstm", "sclstm_clusters"
_SEURAT_KEYS = {"pca": "PC_", "umap": "UMAP_", "tsne": "tSNE_", "sclstm": "SCLSTM_", "ica": "IC_"}
# uns entry in which read_rds records what write_rds needs to give parts their R names back:
# the assay X was read from when not "counts" (a log-normalised "logcounts" must not come back
# as "counts"), that layers["data"] is Seurat's data slot, and the meta.data column holding the
# Idents. It is not written into the R object's metadata itself.
SOURCE_KEY = "sclstm_source"

_SUPPORTED = ("SingleCellExperiment, SummarizedExperiment, Seurat (v3/v4), dgCMatrix or another "
              "sparse Matrix, a numeric matrix or a numeric data.frame")

# --------------------------------------------------------------------------------------
# R side: small functions that take objects apart into plain vectors and lists, and
# build them again. Every call goes through `call`, which turns R errors into a value
# (never an R crash) and collects warnings for Python.
# --------------------------------------------------------------------------------------
_R_CODE = r"""
call <- function(f, ...) {
  warns <- character()
  res <- withCallingHandlers(
    tryCatch(list(ok = TRUE, value = suppressMessages(f(...))),
             error = function(e) list(ok = FALSE, value = conditionMessage(e))),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  res$warnings <- unique(warns)
  res
}

has_pkg <- function(p) isTRUE(suppressWarnings(suppressMessages(requireNamespace(p, quietly = TRUE))))
pkg_version <- function(p) if (has_pkg(p)) as.character(utils::packageVersion(p)) else ""

need <- function(p, what) {
  if (!has_pkg(p)) stop(sprintf("sclstm: NEEDPKG %s %s", p, what))
}

classify <- function(x) {
  if (isS4(x)) {
    pkg <- attr(class(x), "package")
    if (!is.null(pkg) && !inherits(x, "Seurat") && !has_pkg(pkg)) return(paste0("needpkg:", pkg))
  }
  if (inherits(x, "Seurat")) return("seurat")
  if (inherits(x, "seurat")) return("seurat2")
  if (isS4(x) && methods::is(x, "SummarizedExperiment")) return("se")
  if (isS4(x) && (methods::is(x, "Matrix") || methods::is(x, "DelayedArray")) && length(dim(x)) == 2)
    return("matrix")
  if (is.matrix(x) && (is.numeric(x) || is.logical(x))) return("matrix")
  if (is.matrix(x)) return(paste0("matrix_of:", typeof(x)))
  if (is.data.frame(x)) {
    if (ncol(x) > 0 && all(vapply(x, is.numeric, NA))) return("frame")
    return("frame_text")
  }
  "unsupported"
}

describe <- function(x) {
  # an S4 object's dim() method lives in its package (SummarizedExperiment, SeuratObject):
  # without it loaded, dim() is NULL and the listing would lose the size
  pkg <- attr(class(x), "package")
  if (isS4(x) && !is.null(pkg)) suppressPackageStartupMessages(requireNamespace(pkg, quietly = TRUE))
  d <- tryCatch(dim(x), error = function(e) NULL)
  list(kind = classify(x), class = class(x)[1],
       dim = if (is.null(d)) integer() else as.integer(d))
}

# R returns a promise stored in a file as it is, and runs its code when the object is first
# used (CVE-2024-27322; R 4.4 refuses one at the top of an .rds, but load() still binds them):
# a file made to do so ran a shell command through the command line. Such bindings are found
# without forcing them and refused before anything touches them. R has no function that asks
# whether a binding is a promise, and its code (substitute()) can be disguised as a constant by
# byte-compiling it, so the frame of `e` (made with hash = FALSE, in binding order, as ls(e,
# sorted = FALSE) lists it) is read from inspect(). Should that form ever change, the check
# made on a promise of our own fails, and reading stops rather than goes on unchecked.
lazy_bindings <- function(e) {
  out <- utils::capture.output(.Internal(inspect(e, 2L)))
  tags <- grep("^ {4}TAG: ", out)
  lazy <- grepl("^ {4}@\\S+ 05 PROMSXP", out[tags + 1L])
  names <- ls(e, all.names = TRUE, sorted = FALSE)
  if (length(names) != length(tags)) stop("sclstm: cannot check this R's files for stored code", call. = FALSE)
  sort(names[lazy])
}
check_lazy_bindings <- local({
  works <- NA
  function() {
    if (is.na(works)) {
      probe <- new.env(hash = FALSE, parent = emptyenv())
      delayedAssign("p", stop("never run"), assign.env = probe)
      assign("v", 1, envir = probe)
      works <<- identical(tryCatch(lazy_bindings(probe), error = function(err) NULL), "p")
    }
    if (!works) stop(paste("sclstm: cannot check R files for stored code with this R (its inspect() reads",
                           "otherwise); not read"), call. = FALSE)
  }
})
refuse_lazy <- function(e, what) {
  check_lazy_bindings()
  lazy <- lazy_bindings(e)
  if (length(lazy))
    stop(sprintf(paste("sclstm: %s a stored promise, R code that R runs when the object is used",
                       "(CVE-2024-27322); it was not read. Read R files only from sources you trust"),
                 what(lazy)), call. = FALSE)
}

read_rds <- function(path) {
  e <- new.env(hash = FALSE, parent = emptyenv())
  assign("x", readRDS(path), envir = e)  # a promise is stored as it is, not run
  refuse_lazy(e, function(lazy) "the file holds")
  get("x", envir = e, inherits = FALSE)
}

# for messages: a data.frame's non-numeric columns; a list's elements and their classes
text_columns <- function(x) names(x)[!vapply(x, is.numeric, NA)]
list_items <- function(x) {
  nm <- names(x)
  if (is.null(nm)) nm <- character(length(x))
  nm[nm == ""] <- sprintf("[[%d]]", which(nm == ""))
  list(names = nm, classes = vapply(x, function(v) class(v)[1], ""),
       kinds = vapply(x, function(v) tryCatch(classify(v), error = function(e) "unsupported"), ""))
}

load_rdata <- function(path) {
  e <- new.env(hash = FALSE, parent = emptyenv())
  nm <- load(path, envir = e)
  refuse_lazy(e, function(lazy) sprintf("its object%s %s %s", if (length(lazy) > 1L) "s" else "",
                                        paste0("'", lazy, "'", collapse = ", "),
                                        if (length(lazy) > 1L) "hold" else "holds"))
  list(env = e, names = nm, info = lapply(nm, function(n) describe(get(n, envir = e, inherits = FALSE))))
}
get_obj <- function(env, name) get(name, envir = env, inherits = FALSE)

# a 2-d numeric thing -> list(kind = "sparse", i, p, x, ...) or list(kind = "dense", x, ...)
mat <- function(x, what = "matrix") {
  if (methods::is(x, "DelayedArray")) {
    need("DelayedArray", "a DelayedArray")
    x <- if (isTRUE(DelayedArray::is_sparse(x))) as(x, "dgCMatrix") else as.matrix(x)
  }
  if (is.data.frame(x)) {
    bad <- names(x)[!vapply(x, is.numeric, NA)]
    if (length(bad)) stop(sprintf("sclstm: %s has non-numeric columns (%s); keep only the counts",
                                  what, paste(utils::head(bad, 5), collapse = ", ")))
    x <- as.matrix(x)
  }
  # TRUE/FALSE (logical or pattern matrices) stays so in Python, where counts are refused as such
  logical <- is.logical(x) || methods::is(x, "lMatrix") || methods::is(x, "nMatrix")
  if (methods::is(x, "sparseMatrix")) {
    need("Matrix", "a sparse matrix")
    if (!methods::is(x, "dgCMatrix"))
      x <- methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
    dn <- dimnames(x)
    return(list(kind = "sparse", i = x@i, p = x@p, x = x@x, dim = dim(x),
                rownames = dn[[1]], colnames = dn[[2]], logical = logical))
  }
  if (methods::is(x, "Matrix")) x <- as.matrix(x)
  if (!is.matrix(x)) stop(sprintf("sclstm: %s is a %s, not a matrix", what, class(x)[1]))
  if (!is.numeric(x) && !is.logical(x)) stop(sprintf("sclstm: %s holds %s values, not numbers", what, typeof(x)))
  if (anyNA(x)) {
    # an integer NA is the int32 minimum, a number to numpy: NA must reach Python as NaN
    warning(sprintf("%s has %d NA values; they are NaN in Python", what, sum(is.na(x))))
    storage.mode(x) <- "double"
  } else if (is.logical(x)) storage.mode(x) <- "integer"
  dn <- dimnames(x)
  list(kind = "dense", x = x, dim = dim(x), rownames = dn[[1]], colnames = dn[[2]], logical = logical)
}

column <- function(v) {
  if (methods::is(v, "Rle")) v <- S4Vectors::decode(v)
  if (is.factor(v)) return(list(kind = "factor", values = as.integer(v), levels = levels(v),
                                ordered = is.ordered(v)))
  if (!is.null(dim(v)) || is.list(v) || isS4(v)) return(list(kind = "skip", why = class(v)[1]))
  if (is.logical(v)) return(list(kind = "logical", values = v))
  if (is.integer(v) && is.null(attr(v, "class"))) return(list(kind = "integer", values = v))
  if (is.double(v) && is.null(attr(v, "class"))) return(list(kind = "double", values = v))
  if (is.character(v)) return(list(kind = "character", values = v))
  if (is.atomic(v)) return(list(kind = "character", values = as.character(v)))
  list(kind = "skip", why = class(v)[1])
}

frame <- function(d) {
  list(names = colnames(d), rownames = rownames(d), nrow = nrow(d),
       columns = lapply(seq_len(ncol(d)), function(j) column(d[[j]])))
}

se_parts <- function(x, assay) {
  need("SummarizedExperiment", "a SummarizedExperiment")
  an <- SummarizedExperiment::assayNames(x)
  n <- length(SummarizedExperiment::assays(x, withDimnames = FALSE))
  if (n == 0) stop("sclstm: the object has no assays")
  if (is.null(an)) an <- character(n)
  an[an == ""] <- paste0("assay", which(an == ""))
  if (!is.null(assay)) {
    if (!(assay %in% an)) stop(sprintf("sclstm: no assay '%s' (assays: %s)", assay, paste(an, collapse = ", ")))
    main <- assay
  } else {
    main <- if ("counts" %in% an) "counts" else an[1]
    if (main != "counts") warning(sprintf("no 'counts' assay; X holds the assay '%s'", main))
  }
  assays <- list()
  for (k in seq_len(n)) {
    a <- SummarizedExperiment::assay(x, k, withDimnames = FALSE)
    if (an[k] == main) assays[[an[k]]] <- mat(a, sprintf("assay '%s'", an[k]))
    else assays[[an[k]]] <- tryCatch(mat(a, sprintf("assay '%s'", an[k])), error = function(e) {
      warning(sprintf("assay '%s' not converted: %s", an[k], sub("^sclstm: ", "", conditionMessage(e))))
      NULL })
  }
  assays <- assays[!vapply(assays, is.null, NA)]
  rd <- list()
  pairs <- list()
  alt <- character()
  if (methods::is(x, "SingleCellExperiment")) {
    need("SingleCellExperiment", "a SingleCellExperiment")
    dims <- SingleCellExperiment::reducedDims(x)
    for (nm in names(dims)) {
      m <- tryCatch(as.matrix(dims[[nm]]), error = function(e) NULL)
      if (is.null(m) || !is.numeric(m)) warning(sprintf("reducedDim '%s' (a %s) not converted", nm, class(dims[[nm]])[1]))
      else { storage.mode(m) <- "double"; rd[[nm]] <- m }
    }
    alt <- SingleCellExperiment::altExpNames(x)
    if (length(alt)) warning(sprintf("altExps not converted: %s", paste(alt, collapse = ", ")))
    for (nm in SingleCellExperiment::colPairNames(x)) {  # cell-cell graphs: to obsp, as Seurat's graphs
      g <- tryCatch({
        g <- SingleCellExperiment::colPair(x, nm, asSparse = TRUE)
        dimnames(g) <- list(colnames(x), colnames(x))  # a colPair's cells are the object's, in order
        mat(g, sprintf("colPair '%s'", nm))
      }, error = function(e) NULL)
      if (is.null(g)) warning(sprintf("colPair '%s' not converted", nm)) else pairs[[nm]] <- g
    }
  }
  list(main = main, assays = assays, rownames = rownames(x), colnames = colnames(x),
       dim = dim(x), coldata = frame(SummarizedExperiment::colData(x)),
       rowdata = frame(SummarizedExperiment::rowData(x)), reduced = rd, pairs = pairs,
       metadata = S4Vectors::metadata(x))
}

seurat_parts <- function(x, assay) {
  an <- names(x@assays)
  main <- if (is.null(assay)) as.character(x@active.assay) else assay
  if (!(main %in% an)) stop(sprintf("sclstm: the Seurat object has no assay '%s' (assays: %s)", main, paste(an, collapse = ", ")))
  a <- x@assays[[main]]
  acls <- class(a)[1]
  version <- tryCatch(as.character(x@version), error = function(e) "unknown")
  if (acls == "Assay5" || inherits(a, "StdAssay")) {
    so <- pkg_version("SeuratObject")
    if (so == "" || utils::compareVersion(so, "5.0.0") < 0)
      stop(sprintf(paste0("sclstm: SEURAT5 assay '%s' is a Seurat v5 %s (object saved by SeuratObject %s); ",
                          "this R has SeuratObject %s, which cannot read v5 assays. Install SeuratObject >= 5 ",
                          "for this R, or in an R with Seurat 5 convert first: obj[['%s']] <- as(obj[['%s']], 'Assay'); saveRDS(obj, ...)"),
                   main, acls, version, if (so == "") "(not installed)" else so, main, main))
    a <- methods::as(SeuratObject::JoinLayers(a), "Assay")  # SeuratObject >= 5
  } else if (!all(c("counts", "data", "scale.data") %in% methods::slotNames(a))) {
    stop(sprintf("sclstm: assay '%s' is of unsupported class %s", main, acls))
  }
  has_pkg("SeuratObject")  # class definitions for is() on Graph / DimReduc; slots work without it
  counts <- a@counts
  data <- a@data
  use_data <- prod(dim(counts)) == 0
  X <- if (use_data) data else counts
  if (use_data) warning(sprintf("assay '%s' has no counts; X holds its 'data' slot", main))
  layers <- list()
  if (!use_data && prod(dim(data)) > 0 && !identical(data, counts)) layers$data <- mat(data, "data")
  scale <- a@scale.data
  scale_part <- NULL
  if (prod(dim(scale)) > 0) {
    if (nrow(scale) == nrow(X) && identical(rownames(scale), rownames(X)) && identical(colnames(scale), colnames(X)))
      layers[["scale.data"]] <- mat(scale, "scale.data")
    else scale_part <- mat(scale, "scale.data")
  }
  reductions <- list()
  for (nm in names(x@reductions)) {
    r <- x@reductions[[nm]]
    emb <- tryCatch(as.matrix(r@cell.embeddings), error = function(e) NULL)
    if (is.null(emb) || !is.numeric(emb)) { warning(sprintf("reduction '%s' not converted", nm)); next }
    storage.mode(emb) <- "double"
    reductions[[nm]] <- list(x = emb, cells = rownames(emb))
  }
  graphs <- list()
  for (nm in names(x@graphs)) {
    g <- tryCatch(mat(x@graphs[[nm]], sprintf("graph '%s'", nm)), error = function(e) NULL)
    if (is.null(g)) warning(sprintf("graph '%s' not converted", nm)) else graphs[[nm]] <- g
  }
  mf <- tryCatch(frame(a@meta.features), error = function(e) NULL)
  list(main = main, use_data = use_data, assays = an, X = mat(X, sprintf("assay '%s'", main)), layers = layers, scale = scale_part,
       cells = colnames(X), genes = rownames(X), meta = frame(x@meta.data), features = mf,
       var_features = as.character(a@var.features), reductions = reductions, graphs = graphs,
       idents = as.character(x@active.ident), ident_names = names(x@active.ident),
       ident_levels = levels(x@active.ident),
       misc = seurat_misc(x), version = version)
}
# obj@misc, plus the details an older R package kept only in its DimReduc's misc
seurat_misc <- function(x) {
  misc <- x@misc
  for (nm in names(x@reductions)) {
    inner <- tryCatch(x@reductions[[nm]]@misc[[nm]], error = function(e) NULL)
    if (is.null(misc[[nm]]) && !is.null(inner)) misc[[nm]] <- inner
  }
  misc
}

# ---- building objects from Python's parts ----
make_dgc <- function(i, p, x, nrow, ncol, rownames, colnames) {
  need("Matrix", "a sparse matrix")
  methods::new("dgCMatrix", i = i, p = p, x = x, Dim = c(as.integer(nrow), as.integer(ncol)),
               Dimnames = list(rownames, colnames))
}
make_dense <- function(x, nrow, ncol, rownames, colnames) {
  dim(x) <- c(as.integer(nrow), as.integer(ncol))
  dimnames(x) <- list(rownames, colnames)
  x
}
make_df <- function(values, kinds, levels, ordered, names, rownames) {
  cols <- vector("list", length(values))
  for (j in seq_along(values)) {
    v <- values[[j]]
    k <- kinds[[j]]
    if (k == "logical") v <- as.logical(v)
    else if (k == "factor") v <- structure(v, levels = levels[[j]],
                                           class = if (ordered[[j]]) c("ordered", "factor") else "factor")
    cols[[j]] <- v
  }
  names(cols) <- names
  structure(cols, class = "data.frame", row.names = rownames)
}
build_sce <- function(assays, coldata, rowdata, reduced, metadata, graphs) {
  need("SingleCellExperiment", "a SingleCellExperiment")
  for (nm in names(reduced))  # columns named as the R package names them: SCLSTM_1, SCLSTM_2, ...
    colnames(reduced[[nm]]) <- paste0(nm, "_", seq_len(ncol(reduced[[nm]])))
  sce <- SingleCellExperiment::SingleCellExperiment(
    assays = assays, colData = S4Vectors::DataFrame(coldata, check.names = FALSE),
    rowData = S4Vectors::DataFrame(rowdata, check.names = FALSE),
    reducedDims = reduced, metadata = metadata)
  for (nm in names(graphs))  # unnamed: colPair<- cannot take a matrix with dimnames
    SingleCellExperiment::colPair(sce, nm) <- unname(graphs[[nm]])
  sce
}
build_seurat <- function(counts, data, scale, meta, features, reductions, keys, misc, idents, var_features,
                         scale_rows, graphs) {
  need("SeuratObject", "a Seurat object")
  obj <- if (ncol(meta) > 0)
    SeuratObject::CreateSeuratObject(counts = counts, assay = "RNA", meta.data = meta, project = "sclstm")
  else SeuratObject::CreateSeuratObject(counts = counts, assay = "RNA", project = "sclstm")
  genes <- rownames(obj)
  if (!is.null(data)) {
    rownames(data) <- genes
    obj <- SeuratObject::SetAssayData(obj, slot = "data", new.data = data, assay = "RNA")
  }
  if (!is.null(scale)) {
    rownames(scale) <- if (is.null(scale_rows)) genes else genes[scale_rows]
    obj <- SeuratObject::SetAssayData(obj, slot = "scale.data", new.data = scale, assay = "RNA")
  }
  if (ncol(features) > 0) {
    rownames(features) <- genes
    obj[["RNA"]] <- SeuratObject::AddMetaData(obj[["RNA"]], metadata = features)
  }
  if (length(var_features)) SeuratObject::VariableFeatures(obj) <- genes[var_features]
  for (nm in names(reductions)) {
    emb <- reductions[[nm]]
    colnames(emb) <- paste0(keys[[nm]], seq_len(ncol(emb)))
    # the run's details also in the DimReduc's misc, where the R package puts them too
    dr_misc <- if (!is.null(misc[[nm]])) stats::setNames(list(misc[[nm]]), nm) else list()
    # and the meta.data column holding its clusters, as the R package records it, so that a later
    # runScLSTM() under another reduction.name warns before it replaces them
    if (length(dr_misc) && nm == "sclstm" && "sclstm_clusters" %in% colnames(meta)) {
      dr_misc$clusters_column <- "sclstm_clusters"
    }
    obj[[nm]] <- SeuratObject::CreateDimReducObject(embeddings = emb, key = keys[[nm]], assay = "RNA",
                                                    misc = dr_misc)
  }
  for (nm in names(graphs)) {
    g <- SeuratObject::as.Graph(graphs[[nm]])
    SeuratObject::DefaultAssay(g) <- "RNA"
    obj[[nm]] <- g
  }
  if (!is.null(idents)) {
    SeuratObject::Idents(obj) <- idents
    if (idents == "ident") obj$ident <- NULL
  }
  obj@misc <- misc
  obj
}
check_sce <- function(path) {x <- readRDS(path); validObject(x); TRUE}
save_rds <- function(obj, path) {  # to the hidden file beside the output that Python renames onto it
  saveRDS(obj, path)
  TRUE
}
"""


@contextlib.contextmanager
def _signals_after_r():
    """Ctrl-C (and a SIGTERM the command line turns into an exception) while R runs: acted on
    when R returns. Before, Python's handler raised inside rpy2's event callback, which drops
    the exception, so the run went on to the end and exited 0."""
    pending = []
    caught = {}
    try:
        with handling((signal.SIGINT, signal.SIGTERM), lambda signum, frame: pending.append(signum),
                      replaces=callable) as caught:
            yield
    finally:
        if pending:
            caught[pending[0]](pending[0], None)


class _R:
    """The embedded R session and the helper functions above (created once per process)."""

    _instance = None

    def __init__(self):
        # R's startup sets LD_LIBRARY_PATH to R's library folders (etc/Renviron). This process
        # has loaded its libraries already, but its child processes would inherit the setting:
        # a Python built elsewhere than the system (pyenv, conda) then loads the system's
        # libpython and fails to start (seen: Dask workers, "undefined symbol: _PyModule_Add").
        ld_library_path = os.environ.get("LD_LIBRARY_PATH")
        try:
            import rpy2.rinterface as ri
            import rpy2.rinterface_lib.embedded as embedded

            ri.initr_simple()
        except Exception as exc:  # ImportError, R not found, R libraries not loadable
            raise InputError(f"reading and writing R files needs R and rpy2 ({first_line(exc)}): {_INSTALL}.") from None
        finally:
            if ld_library_path is None:
                os.environ.pop("LD_LIBRARY_PATH", None)
            else:
                os.environ["LD_LIBRARY_PATH"] = ld_library_path
        self.ri = ri
        self.RRuntimeError = embedded.RRuntimeError
        try:
            env = ri.baseenv["new.env"]()
            ri.baseenv["eval"](ri.parse(_R_CODE), env)
        except Exception as exc:  # pragma: no cover - broken R installation
            raise InputError(f"R could not be started through rpy2 ({exc}): {_INSTALL}.") from None
        self.env = env

    @classmethod
    def get(cls) -> "_R":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __call__(self, fname: str, *args, context: str = ""):
        """Call helper ``fname``; an R error becomes one-line InputError, R warnings Python warnings."""
        try:
            with _signals_after_r():
                res = _named(self.env["call"](self.env[fname], *args))
        except self.RRuntimeError as exc:  # pragma: no cover - `call` catches R errors itself
            raise InputError(f"R failed {context}: {first_line(exc)}") from None
        for w in _strings(res["warnings"]):
            warn_user(f"R: {w}")
        if not _bool(res["ok"]):
            raise _r_error(_strings(res["value"])[0], context)
        return res["value"]

    def str_vec(self, values):
        ri = self.ri
        return ri.StrSexpVector([ri.NA_Character if v is None else v for v in values])

    def num_vec(self, arr):
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.int32:
            return self.ri.IntSexpVector.from_memoryview(memoryview(arr)) if arr.size else self.ri.IntSexpVector([])
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        return self.ri.FloatSexpVector.from_memoryview(memoryview(arr)) if arr.size else self.ri.FloatSexpVector([])

    def list_(self, items: dict):
        ri = self.ri
        lst = ri.ListSexpVector(list(items.values()))
        if items:
            lst = ri.baseenv["names<-"](lst, ri.StrSexpVector([str(k) for k in items]))
        return lst

    def scalar(self, v):
        ri = self.ri
        if v is None:
            return ri.NULL
        if isinstance(v, (bool, np.bool_)):
            return ri.BoolSexpVector([bool(v)])
        if isinstance(v, (int, np.integer)):
            return ri.IntSexpVector([int(v)])
        if isinstance(v, str):
            return ri.StrSexpVector([v])
        return ri.FloatSexpVector([float(v)])


def _r_error(msg: str, context: str) -> InputError:
    msg = msg.strip()
    if msg.startswith("sclstm: NEEDPKG "):
        _, _, pkg, what = msg.split(" ", 3)
        deb = _DEBIAN.get(pkg, "r-cran-" + pkg.lower())
        return InputError(f"{context}: {what} needs the R package {pkg}, which this R does not have "
                          f"(Debian: apt-get install {deb}; or install.packages / BiocManager::install('{pkg}')).")
    if msg.startswith("sclstm: SEURAT5 "):
        return InputError(f"{context}: {msg[len('sclstm: SEURAT5 '):]}.")
    if msg.startswith("sclstm: "):
        return InputError(f"{context}: {first_line(msg[len('sclstm: '):])}.")
    hint = ("; the file looks truncated or damaged (an interrupted copy or download?)"
            if "error reading from connection" in msg or "unknown input format" in msg else "")
    return InputError(f"R failed {context}: {first_line(msg)}{hint}")


# ---- R values → Python ---------------------------------------------------------------

def _named(lst) -> dict:
    names = lst.names
    keys = [] if names is None or _is_null(names) else list(names)
    return dict(zip(keys, list(lst)))


def _is_null(x) -> bool:
    return type(x).__name__ == "NULLType"


def _strings(x):
    if _is_null(x):
        return []
    out = []
    for v in x:
        out.append(None if type(v).__name__ == "NACharacterType" else str(v))
    return out


def _bool(x) -> bool:
    return bool(list(x)[0])


def _array(x, dtype=None) -> np.ndarray:
    """Copy an R numeric/integer/logical vector (or matrix, with its shape) into numpy."""
    if len(x) == 0:
        kind = type(x).__name__
        dt = dtype or (np.float64 if kind == "FloatSexpVector" else np.int32)
        dim = x.do_slot("dim") if "dim" in list(x.list_attrs()) else None
        shape = tuple(dim) if dim is not None else (0,)
        return np.empty(shape, dtype=dt)
    a = np.array(x.memoryview())  # copies R's memory (numpy owns the result)
    return a if dtype is None else a.astype(dtype, copy=False)


def _names_or_range(names, n):
    if _is_null(names):
        return [str(i) for i in range(n)]
    return _strings(names)


def _matrix(parts, genes_by_cells: bool = True):
    """mat() parts → (cells × genes matrix, cell names, gene names) — or rows/cols unswapped.
    An R logical (or pattern) matrix without NA comes back boolean, as anndata2ri converts it
    (before: 0/1 numbers, which sclstm then clustered as counts; a boolean matrix is refused)."""
    p = _named(parts)
    nrow, ncol = (int(v) for v in p["dim"])
    rn, cn = _names_or_range(p["rownames"], nrow), _names_or_range(p["colnames"], ncol)
    logical = "logical" in p and bool(list(p["logical"])[0])
    if _strings(p["kind"])[0] == "sparse":
        i, ptr, x = _array(p["i"]), _array(p["p"]), _array(p["x"], np.float64)
        if logical and not np.isnan(x).any():
            x = x.astype(bool)
        if genes_by_cells:
            return sp.csr_matrix((x, i, ptr), shape=(ncol, nrow)), cn, rn
        cells_by_genes = sp.csc_matrix((x, i, ptr), shape=(nrow, ncol))
        check_sparse_structure(cells_by_genes)  # before tocsr, which writes by these indices
        return cells_by_genes.tocsr(), rn, cn
    if nrow * ncol == 0:
        a = np.empty((nrow, ncol), dtype=np.float64)
    else:
        a = np.asarray(p["x"].memoryview())  # (nrow, ncol), Fortran strides, no copy yet
    if logical and not (a.dtype.kind == "f" and np.isnan(a).any()):
        a = a.astype(bool)
    if genes_by_cells:
        return np.array(a.T, order="C"), cn, rn
    return np.array(a, order="C"), rn, cn


def _frame(parts, what: str) -> pd.DataFrame:
    p = _named(parts)
    n = int(list(p["nrow"])[0])
    names, cols, skipped = [], [], []
    for name, col in zip(_strings(p["names"]), list(p["columns"])):
        c = _named(col)
        kind = _strings(c["kind"])[0]
        if kind == "skip":
            skipped.append(f"{name} ({_strings(c['why'])[0]})")
            continue
        names.append(name)
        cols.append(_column(kind, c))
    if skipped:
        warn_user(f"{what}: columns not converted (not plain vectors): {', '.join(skipped)}")
    index = pd.Index(_names_or_range(p["rownames"], n), dtype=object)
    df = pd.DataFrame({j: col for j, col in enumerate(cols)}, index=index)
    df.columns = names  # keeps duplicated names, if R had any
    return df


def _column(kind, c):
    if kind == "factor":
        codes = _array(c["values"])
        codes = np.where(codes == _NA_INT, -1, codes - 1).astype(np.int32 if len(codes) else np.int8)
        cats = _strings(c["levels"])
        na_level = np.array([v is None for v in cats], dtype=bool)
        if na_level.any():  # addNA() / factor(exclude = NULL): NA as a level is a missing value here
            codes = np.where(np.isin(codes, np.flatnonzero(na_level)), -1,
                             codes - np.cumsum(na_level)[np.maximum(codes, 0)]).astype(codes.dtype)
            cats = [v for v in cats if v is not None]
        return pd.Categorical.from_codes(codes, categories=cats, ordered=_bool(c["ordered"]))
    if kind == "character":
        vals = _strings(c["values"])
        return np.array([np.nan if v is None else v for v in vals], dtype=object)
    v = _array(c["values"]) if len(c["values"]) else np.empty(0, dtype=np.float64 if kind == "double" else np.int32)
    if kind == "double":
        return v.astype(np.float64, copy=False)
    na = v == _NA_INT
    if kind == "logical":
        if na.any():
            return pd.arrays.BooleanArray(v.astype(bool), na)
        return v.astype(bool)
    if na.any():  # integer with NA
        return pd.arrays.IntegerArray(np.where(na, 0, v).astype(np.int32), na)
    return v.astype(np.int32, copy=False)


def _to_py(x, where: str, skipped: list):
    """An R value from metadata / misc → plain Python (dict, list, numpy, scalars)."""
    kind = type(x).__name__
    if kind == "NULLType":
        return None
    attrs = list(x.list_attrs()) if hasattr(x, "list_attrs") else []
    rclass = list(x.rclass) if hasattr(x, "rclass") else []
    if kind == "ListSexpVector":
        if "data.frame" in rclass:
            skipped.append(where)
            return _SKIP
        names = _strings(x.names) if "names" in attrs else []
        vals = list(x)
        if names and all(names) and len(set(names)) == len(names):
            out = {}
            for k, v in zip(names, vals):
                r = _to_py(v, f"{where}${k}", skipped)
                if r is not _SKIP:
                    out[k] = r
            return out
        out = [_to_py(v, f"{where}[[{i + 1}]]", skipped) for i, v in enumerate(vals)]
        return [v for v in out if v is not _SKIP]
    if kind == "StrSexpVector":
        vals = _strings(x)
        if "dim" in attrs:
            dim = tuple(x.do_slot("dim"))
            return np.array(vals, dtype=object).reshape(dim, order="F")
        return _vector_values(x, attrs, vals)
    if kind in ("FloatSexpVector", "IntSexpVector", "BoolSexpVector"):
        if "factor" in rclass:
            levels = _strings(x.do_slot("levels"))
            vals = [None if c == _NA_INT else levels[c - 1] for c in _array(x)]
            return _vector_values(x, attrs, vals)
        if kind == "FloatSexpVector" and len(rclass) and rclass[0] not in ("numeric", "matrix", "array"):
            skipped.append(where)  # Date, POSIXct, ...
            return _SKIP
        a = _array(x)
        if kind == "BoolSexpVector":
            if (a == _NA_INT).any():
                a = np.where(a == _NA_INT, None, a.astype(bool)).astype(object)
            else:
                a = a.astype(bool)
        elif kind == "IntSexpVector" and (a == _NA_INT).any():
            a = np.where(a == _NA_INT, np.nan, a)
        if "dim" in attrs:
            dim = tuple(x.do_slot("dim"))
            return np.asarray(a).reshape(dim, order="F")
        named = _vector_values(x, attrs, [v.item() if hasattr(v, "item") else v for v in a])
        if isinstance(named, dict) or a.size == 1:
            return named
        return a
    skipped.append(where)
    return _SKIP


def _vector_values(x, attrs, values: list):
    """An R vector's values: a dict when every element has its own name (c(a = 1, b = 2),
    e.g. a versions record), else one scalar or the list."""
    names = _strings(x.names) if "names" in attrs else []
    if names and all(names) and len(set(names)) == len(names) and len(names) == len(values):
        return dict(zip(names, values))
    return values[0] if len(values) == 1 else values


_SKIP = object()


def _uns_from(x, what):
    skipped: list = []
    out = _to_py(x, what, skipped)
    if skipped:
        warn_user(f"not converted to uns (not plain values): {', '.join(skipped[:10])}")
    return out if isinstance(out, dict) else ({} if out is None or out == [] else {what: out})


# ---- reading ---------------------------------------------------------------------------

def _check_file(path, genes_by_cells=None) -> str:
    """The input file's absolute path, after checking the arguments every reader takes."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"the file to read must be a path (str or Path), got {type(path).__name__}.")
    if not (genes_by_cells is None or isinstance(genes_by_cells, (bool, np.bool_))):  # "no" would read as True
        raise InputError(f"genes_by_cells must be True, False or None, got {genes_by_cells!r}.")
    path = os.path.expanduser(os.fspath(path))
    if not os.path.exists(path):
        raise InputError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"input is a folder, not a file: {path}")
    return os.path.abspath(os.path.expanduser(path))


def _sniff(path: str) -> str:
    """'rds' or 'rdata' from the (decompressed) first bytes; InputError for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    opener = None
    if head[:2] == b"\x1f\x8b":
        opener = gzip.open
    elif head[:3] == b"BZh":
        opener = bz2.open
    elif head[:6] == b"\xfd7zXZ\x00":
        opener = lzma.open
    if opener is not None:
        try:
            with opener(path, "rb") as fh:
                head = fh.read(8)
        except (OSError, EOFError, lzma.LZMAError):
            raise InputError(f"{path} is compressed but not readable (damaged or truncated).") from None
    if head[:2] in (b"X\n", b"A\n", b"B\n"):
        return "rds"
    if head[:5] in (b"RDX2\n", b"RDX3\n", b"RDA2\n", b"RDA3\n", b"RDB2\n", b"RDB3\n"):
        return "rdata"
    hint = ""
    if head[:4] == b"\x89HDF":
        hint = " (it is an HDF5 file: for .h5ad use anndata.read_h5ad)"
    elif not head:
        hint = " (it is empty)"
    raise InputError(f"{path} is not an R data file (.rds from saveRDS or .RData from save){hint}.")


def read_rds(path, assay=None, genes_by_cells=None) -> ad.AnnData:
    """Read an ``.rds`` file (SingleCellExperiment, SummarizedExperiment, Seurat, sparse or dense
    matrix, numeric data.frame) as a cells × genes AnnData.

    ``assay``: the assay for X (default: ``counts``, else the first; for Seurat the default
    assay's counts). ``genes_by_cells``: for a bare matrix or data.frame, whether rows are genes
    (default True, R's convention; False when rows are cells). An ``.RData`` file given here is
    read as by :func:`read_rdata`.
    """
    path = _check_file(path, genes_by_cells)
    if _sniff(path) == "rdata":
        return read_rdata(path, assay=assay, genes_by_cells=genes_by_cells)
    R = _R.get()
    obj = R("read_rds", R.str_vec([path]), context=f"reading {path}")
    return _convert(R, obj, path, assay, genes_by_cells)


def read_rdata(path, name=None, assay=None, genes_by_cells=None) -> ad.AnnData:
    """Read object ``name`` of an ``.RData`` / ``.rda`` file — or the only one sclstm can read —
    as a cells × genes AnnData (see :func:`read_rds` for the classes and keywords).

    When several objects qualify and no name is given, the error lists them.
    """
    path = _check_file(path, genes_by_cells)
    if _sniff(path) == "rds":
        if name is not None:
            raise InputError(f"{path} is a single-object .rds file (saveRDS); it has no object {name!r} — "
                             f"drop the ':{name}'.")
        return read_rds(path, assay=assay, genes_by_cells=genes_by_cells)
    R = _R.get()
    loaded = _named(R("load_rdata", R.str_vec([path]), context=f"reading {path}"))
    names = _strings(loaded["names"])
    info = [_named(i) for i in list(loaded["info"])]
    kinds = [_strings(i["kind"])[0] for i in info]

    def label(j):
        cls = _strings(info[j]["class"])[0]
        dim = list(info[j]["dim"])
        return f"{names[j]} ({cls}{' ' + ' × '.join(str(d) for d in dim) if dim else ''})"

    readable = [j for j, k in enumerate(kinds) if k in ("se", "seurat", "matrix", "frame") or k.startswith("needpkg:")]
    if name is not None:
        if name not in names:
            held = ", ".join(label(j) for j in range(len(names))) or "nothing"
            raise InputError(f"no object {name!r} in {path}; it holds: {held}.")
        j = names.index(name)
    elif len(readable) == 1:
        j = readable[0]
    elif not readable:
        held = ", ".join(label(j) for j in range(len(names))) or "no objects"
        raise InputError(f"{path} holds no object sclstm can read ({held}); supported: {_SUPPORTED}.")
    else:
        listed = ", ".join(label(j) for j in readable)
        raise InputError(f"{path} holds {len(readable)} objects sclstm can read: {listed}; name one, "
                         f"e.g. read_rdata(path, name={names[readable[0]]!r}) or {Path(path).name}:{names[readable[0]]}.")
    obj = R("get_obj", loaded["env"], R.str_vec([names[j]]), context=f"reading {path}")
    return _convert(R, obj, f"{path}:{names[j]}", assay, genes_by_cells)


def _convert(R, obj, where: str, assay, genes_by_cells) -> ad.AnnData:
    info = _named(R("describe", obj, context=f"reading {where}"))
    kind, cls = _strings(info["kind"])[0], _strings(info["class"])[0]
    context = f"reading {where}"
    if kind.startswith("needpkg:"):
        pkg = kind.split(":", 1)[1]
        raise InputError(f"{context}: a {cls} needs the R package {pkg}, which this R does not have "
                         f"(Debian: apt-get install {_DEBIAN.get(pkg, 'r-bioc-' + pkg.lower())}).")
    rassay = R.ri.NULL if assay is None else R.str_vec([str(assay)])
    if kind == "se":
        adata = _from_se(_named(R("se_parts", obj, rassay, context=context)), where)
    elif kind == "seurat":
        adata = _from_seurat(_named(R("seurat_parts", obj, rassay, context=context)), where)
    elif kind in ("matrix", "frame"):
        if assay is not None:
            raise InputError(f"{context}: assay={assay!r} given but the object is a {cls}, which has no assays.")
        X, cells, genes = _matrix(R("mat", obj, R.str_vec([f"the {cls}"]), context=context),
                                  genes_by_cells=True if genes_by_cells is None else bool(genes_by_cells))
        if genes_by_cells is None:
            # nothing in a bare matrix says which way round it is: say which way it was read
            warn_user(f"{where}: the {cls} was read as genes × cells (rows = genes, R's convention): "
                      f"{len(cells)} cells × {len(genes)} genes; if its rows are cells, pass "
                      f"genes_by_cells=False (or save t(x) from R).")
        adata = ad.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(cells, dtype=object)),
                           var=pd.DataFrame(index=pd.Index(genes, dtype=object)))
    elif kind.startswith("matrix_of:"):
        raise InputError(f"{context}: a matrix of {kind.split(':', 1)[1]} values, not numbers; counts must be "
                         "numeric (numbers written as text: storage.mode(x) <- \"double\" in R, then save it again).")
    elif kind == "seurat2":
        raise InputError(f"{context}: a Seurat v2 object (class 'seurat'); update it in R first "
                         f"(Seurat::UpdateSeuratObject) and save it again.")
    elif kind == "frame_text":
        text = _strings(R("text_columns", obj, context=context))
        shown = ", ".join(repr(c) for c in text[:5]) + (f" and {len(text) - 5} more" if len(text) > 5 else "")
        raise InputError(f"{context}: a data.frame with non-numeric columns ({shown}), not a count matrix; "
                         f"if they hold gene or cell names, make them the row names in R (rownames(df) <- "
                         f"df[[{text[0]!r}]]; df[[{text[0]!r}]] <- NULL) and save it again."
                         if text else f"{context}: an empty data.frame, not a count matrix.")
    elif cls == "list":
        items = _named(R("list_items", obj, context=context))
        names, classes, kinds = (_strings(items[k]) for k in ("names", "classes", "kinds"))
        shown = ", ".join(f"{n} ({c})" for n, c in zip(names[:5], classes[:5]))
        shown += f" and {len(names) - 5} more" if len(names) > 5 else ""
        usable = [n if n.startswith("[[") else f"[[{n!r}]]".replace("'", '"')
                  for n, k in zip(names, kinds) if k in ("se", "seurat", "matrix", "frame")]
        hint = f"; save the one to read on its own from R, e.g. saveRDS(x{usable[0]}, path)" if usable else ""
        raise InputError(f"{context}: objects of class 'list' are not supported (this one holds {len(names)}: "
                         f"{shown or 'nothing'}){hint}; supported: {_SUPPORTED}.")
    else:
        raise InputError(f"{context}: objects of class {cls!r} are not supported; supported: {_SUPPORTED}.")
    return adata


def _fold_case(names, fold) -> list:
    """``fold(name)`` for each name (``str.lower``, ``str.upper``), except where two names differ
    only in case (``PCA`` and ``pca``): those keep their own case, so that neither is lost."""
    folded = [fold(n) for n in names]
    clash = pd.Series(folded).duplicated(keep=False).to_numpy()
    return [n if c else f for n, f, c in zip(names, folded, clash)]


def _obsm_names(r_names) -> dict:
    """R reduction name → obsm key: ``PCA`` → ``X_pca``, scanpy's spelling (see :func:`_fold_case`)."""
    return {n: "X_" + f for n, f in zip(r_names, _fold_case(r_names, str.lower))}


def _rename_clusters_in(obs: pd.DataFrame) -> pd.DataFrame:
    if _CLUSTERS_R in obs.columns and _CLUSTERS_PY not in obs.columns:
        obs = obs.rename(columns={_CLUSTERS_R: _CLUSTERS_PY})
    return obs


def _from_se(p: dict, where: str) -> ad.AnnData:
    main = _strings(p["main"])[0]
    assays = _named(p["assays"])
    n_genes, n_cells = (int(v) for v in p["dim"])
    X, _, _ = _matrix(assays[main])
    layers = {}
    for name, parts in assays.items():
        if name != main:
            layers[name] = _matrix(parts)[0]
    cells = _names_or_range(p["colnames"], n_cells)
    genes = _names_or_range(p["rownames"], n_genes)
    obs = _rename_clusters_in(_frame(p["coldata"], "colData"))
    var = _frame(p["rowdata"], "rowData")
    obs.index = pd.Index(cells, dtype=object)
    var.index = pd.Index(genes, dtype=object)
    reduced = _named(p["reduced"])
    key = _obsm_names(list(reduced))
    obsm = {key[k]: np.array(_array(v), order="C") for k, v in reduced.items()}
    obsp = _graphs_to_obsp(p["pairs"], cells, "colPair")
    uns = _uns_from(p["metadata"], "metadata")
    if main != "counts":  # so that write_rds gives X back its own name, not "counts"
        uns[SOURCE_KEY] = {"X_assay": main}
    return ad.AnnData(X=X, obs=obs, var=var, layers=layers or None, obsm=obsm or None, obsp=obsp or None,
                      uns=uns or None)


def _graphs_to_obsp(graphs, cells, what: str) -> dict:
    """Cell × cell graphs (Seurat's graphs, a SingleCellExperiment's colPairs) → obsp, each kept
    only where its rows and columns are the object's cells in order."""
    obsp = {}
    for name, g in _named(graphs).items():
        G, rows, cols = _matrix(g, genes_by_cells=False)
        if rows == list(cells) and cols == list(cells):
            obsp[name] = G
        else:
            warn_user(f"{what} {name!r} is not over the object's cells in order; not converted")
    return obsp


def _from_seurat(p: dict, where: str) -> ad.AnnData:
    X, cells, genes = _matrix(p["X"])
    main = _strings(p["main"])[0]
    others = [a for a in _strings(p["assays"]) if a != main]
    if others:
        warn_user(f"{where}: X holds Seurat assay {main!r}; assays not converted: {', '.join(others)} "
                  f"(read another with assay={others[0]!r})")
    layers = {k: _matrix(v)[0] for k, v in _named(p["layers"]).items()}
    obs = _frame(p["meta"], "meta.data")
    cell_index = pd.Index(cells, dtype=object)
    if obs.index.is_unique and cell_index.isin(obs.index).all():
        obs = obs.reindex(cell_index)  # by name: Seurat matches meta.data rows to cells by name, not order
    elif len(obs) == len(cells):
        warn_user(f"{where}: meta.data row names are not the cell names; its rows are taken in the cells' order")
        obs.index = cell_index
    else:
        obs = obs.reindex(cell_index)
    source = {}  # uns[SOURCE_KEY]: what write_rds needs to give the parts their R names back
    idents = _strings(p["idents"])

    def as_text(col):
        return [None if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))) else str(v) for v in col]

    if idents:
        ident_names = _strings(p["ident_names"])
        levels = _strings(p["ident_levels"]) or None  # Idents' own level order, not sorted
        s = pd.Series(pd.Categorical(idents, categories=levels), index=ident_names if ident_names else cells)
        s = s.reindex(obs.index) if s.index.is_unique else s.set_axis(obs.index)
        text = as_text(s)
        present = set(text)
        ident_order = [v for v in s.cat.categories if v in present]

        def holds_idents(c):  # the same values and, for a factor, the same level order as Idents
            column = obs[c]
            if isinstance(column.dtype, pd.CategoricalDtype):
                used = [str(v) for v in column.cat.categories if v in present]
                return as_text(column) == text and used == ident_order
            return column.dtype == object and as_text(column) == text

        holding = [c for c in obs.columns if holds_idents(c)]
        if holding:  # so that write_rds(kind="Seurat") makes that column the identities again
            source["idents"] = str(holding[0])
        else:
            col = "ident"
            if col in obs.columns:  # meta.data's own 'ident' column is kept
                col = "active.ident"
                warn_user(f"{where}: meta.data has its own 'ident' column; the active identities (Idents) "
                          f"are in obs[{col!r}]")
            obs[col] = s
            source["idents"] = col
    obs = _rename_clusters_in(obs)
    if _is_null(p["features"]):
        var = pd.DataFrame(index=pd.Index(genes, dtype=object))
    else:
        var = _frame(p["features"], "meta.features")
        var = var.reindex(pd.Index(genes, dtype=object)) if len(var.columns) else pd.DataFrame(index=pd.Index(genes, dtype=object))
    vf = _strings(p["var_features"])
    if vf:
        # VariableFeatures' own order (most variable first), as scanpy's rank: 0, 1, ...; NaN elsewhere
        rank = pd.Series(np.arange(len(vf), dtype=np.float64), index=pd.Index(vf, dtype=object))
        rank = rank[~rank.index.duplicated()].reindex(pd.Index(genes, dtype=object)).to_numpy()
        var["highly_variable"] = ~np.isnan(rank)
        var["highly_variable_rank"] = rank
    obsm = {}
    pos = pd.Index(cells)
    reductions = _named(p["reductions"])
    key = _obsm_names(list(reductions))
    for name, r in reductions.items():
        r = _named(r)
        emb = np.array(_array(r["x"]), order="C")
        rc = _strings(r["cells"]) if not _is_null(r["cells"]) else None
        if rc is not None and rc != list(cells):
            full = np.full((len(cells), emb.shape[1]), np.nan)
            idx = pos.get_indexer(rc)
            ok = idx >= 0
            full[idx[ok]] = emb[ok]
            emb = full
        obsm[key[name]] = emb
    if not _is_null(p["scale"]):
        S, scells, sgenes = _matrix(p["scale"])
        df = pd.DataFrame(S.toarray() if sp.issparse(S) else S, index=scells, columns=sgenes)
        obsm["scale.data"] = df.reindex(pd.Index(cells, dtype=object))
    obsp = _graphs_to_obsp(p["graphs"], cells, "graph")
    uns = _uns_from(p["misc"], "misc")
    if _bool(p["use_data"]):  # the 'data' slot: log-normalised, "logcounts" in a SingleCellExperiment
        source["X_assay"] = "logcounts"
    if "data" in layers:  # the same slot beside counts
        source["layers"] = {"data": "logcounts"}
    if source:
        uns[SOURCE_KEY] = source
    return ad.AnnData(X=X, obs=obs, var=var, layers=layers or None, obsm=obsm or None, obsp=obsp or None,
                      uns=uns or None)


# ---- writing ---------------------------------------------------------------------------

def _r_matrix(R, X, rownames_cells, genes, what):
    """A cells × genes matrix → R genes × cells (dgCMatrix for sparse input, matrix for dense)."""
    rg, rc = R.str_vec(genes), R.str_vec(rownames_cells)
    n_cells, n_genes = X.shape
    if sp.issparse(X):
        csr = X.tocsr() if X.format != "csr" else X
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        if csr.nnz >= 2**31:
            raise InputError(f"{what} has {csr.nnz} non-zero values; R's dgCMatrix holds at most 2^31 - 1.")
        return R("make_dgc", R.num_vec(csr.indices.astype(np.int32, copy=False)),
                 R.num_vec(csr.indptr.astype(np.int32, copy=False)), R.num_vec(csr.data),
                 R.ri.IntSexpVector([n_genes]), R.ri.IntSexpVector([n_cells]), rg, rc, context=f"writing {what}")
    arr = np.asarray(X)
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{what} is not a numeric matrix (dtype {arr.dtype}).")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        if arr.size and (arr.min() <= _NA_INT or arr.max() > np.iinfo(np.int32).max):
            arr = arr.astype(np.float64)
        else:
            arr = arr.astype(np.int32)
    else:
        arr = arr.astype(np.float64, copy=False)
    # R's column-major genes × cells is numpy's row-major cells × genes: the same bytes
    return R("make_dense", R.num_vec(np.ascontiguousarray(arr).ravel()), R.ri.IntSexpVector([n_genes]),
             R.ri.IntSexpVector([n_cells]), rg, rc, context=f"writing {what}")


def _r_graphs(R, graphs: dict, cells: list):
    """Sparse cell × cell obsp matrices → a named R list of dgCMatrix, rows and columns the cells."""
    # _r_matrix writes its argument's transpose, so G.T gives G itself
    return R.list_({key: _r_matrix(R, G.T.astype(np.float64), cells, cells, f"obsp[{key!r}]")
                    for key, G in graphs.items()})


def _r_column(R, s: pd.Series, name: str):
    """(vector, kind, levels, ordered) for one obs/var column."""
    ri = R.ri
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        levels = [label_text(c) for c in s.cat.categories]  # 2.0 as R writes it, "2"
        if len(set(levels)) != len(levels):
            raise InputError(f"column {name!r}: categories {list(s.cat.categories)} are not distinct as text, "
                             "which R factor levels must be.")
        codes = s.cat.codes.to_numpy().astype(np.int32) + 1
        codes[codes == 0] = _NA_INT
        return R.num_vec(codes), "factor", R.str_vec(levels), bool(s.cat.ordered)
    if pd.api.types.is_bool_dtype(dt):
        mask = s.isna().to_numpy()
        vals = s.to_numpy(dtype=bool, na_value=False).astype(np.int32)
        vals[mask] = _NA_INT
        return R.num_vec(vals), "logical", ri.NULL, False
    if pd.api.types.is_integer_dtype(dt):
        mask = s.isna().to_numpy()
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan) if mask.any() else s.to_numpy()
        ok = vals[~mask]
        if ok.size == 0 or (ok.min() > _NA_INT and ok.max() <= np.iinfo(np.int32).max):
            out = np.where(mask, _NA_INT, np.where(mask, 0, vals)).astype(np.int32)
            return R.num_vec(out), "integer", ri.NULL, False
        return R.num_vec(vals.astype(np.float64)), "double", ri.NULL, False
    if pd.api.types.is_float_dtype(dt):
        return R.num_vec(s.to_numpy(dtype=np.float64, na_value=np.nan)), "double", ri.NULL, False
    if dt == object and pd.api.types.infer_dtype(s, skipna=True) == "boolean":
        # True / False with None or NaN (object dtype): R logical with NA, not the text "True"
        return _r_column(R, s.astype("boolean"), name)
    vals = [None if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) else str(v)
            for v in s.tolist()]
    return R.str_vec(vals), "character", ri.NULL, False


def _r_frame(R, df: pd.DataFrame, what: str, rename=None):
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        raise InputError(f"{what} has duplicated column names; R data frames need distinct names.")
    names, values, kinds, levels, ordered = [], [], [], [], []
    for c, col in zip(cols, df.columns):
        v, k, lev, o = _r_column(R, df[col], c)
        names.append(rename.get(c, c) if rename else c)
        values.append(v)
        kinds.append(R.str_vec([k]))
        levels.append(lev)
        ordered.append(R.ri.BoolSexpVector([o]))
    ri = R.ri
    return R("make_df", ri.ListSexpVector(values), ri.ListSexpVector(kinds), ri.ListSexpVector(levels),
             ri.ListSexpVector(ordered), R.str_vec(names), R.str_vec([str(i) for i in df.index]),
             context=f"writing {what}")


def _same_scalar_kind(values) -> bool:
    """All strings, all booleans, or all (non-boolean) numbers: one R atomic vector holds them."""
    values = list(values)
    if all(isinstance(x, str) for x in values) or all(isinstance(x, (bool, np.bool_)) for x in values):
        return True
    return all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
               for x in values)


def _r_value(R, v, where: str, skipped: list, as_list: bool = False):
    """uns value → R (named list, vectors, matrices); unconvertible values are skipped.
    ``as_list``: a dict stays a named list (metadata and misc themselves must be lists)."""
    ri = R.ri
    if isinstance(v, dict) and v and not as_list and _same_scalar_kind(v.values()):
        # {"torch": "2.13", ...} → c(torch = "2.13", ...): a named vector, as the R package
        # stores such records, and as read_rds reads back into a dict
        vec = _r_value(R, list(v.values()), where, skipped)
        vec.do_slot_assign("names", R.str_vec([str(k) for k in v]))
        return vec
    if isinstance(v, dict):
        items = {}
        for k, x in v.items():
            r = _r_value(R, x, f"{where}[{k!r}]", skipped)
            if r is not _SKIP:
                items[str(k)] = r
        return R.list_(items)
    if v is None or isinstance(v, (bool, np.bool_, int, np.integer, float, np.floating, str)):
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and not (_NA_INT < int(v) <= 2**31 - 1):
            return ri.FloatSexpVector([float(v)])
        return R.scalar(v)
    if isinstance(v, pd.DataFrame):
        return _r_frame(R, v, where)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, str) for x in v):
            return R.str_vec(list(v))
        if v and all(isinstance(x, (bool, np.bool_)) for x in v):
            return ri.BoolSexpVector([bool(x) for x in v])
        if v and all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in v):
            return _r_value(R, np.asarray(v), where, skipped)
        if v and all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
                     for x in v):
            return R.num_vec(np.asarray(v, dtype=np.float64))
        out = []
        for i, x in enumerate(v):
            r = _r_value(R, x, f"{where}[{i}]", skipped)
            if r is not _SKIP:
                out.append(r)
        return ri.ListSexpVector(out)
    if isinstance(v, np.ndarray):
        a = v
        if a.dtype == bool:
            flat = ri.BoolSexpVector([bool(x) for x in a.ravel(order="F")])
        elif np.issubdtype(a.dtype, np.integer):
            if a.size and (a.min() <= _NA_INT or a.max() > 2**31 - 1):
                flat = R.num_vec(a.ravel(order="F").astype(np.float64))
            else:
                flat = R.num_vec(a.ravel(order="F").astype(np.int32))
        elif np.issubdtype(a.dtype, np.floating):
            flat = R.num_vec(a.ravel(order="F").astype(np.float64))
        elif a.dtype.kind in "USO" and all(isinstance(x, str) for x in a.ravel()):
            flat = R.str_vec([str(x) for x in a.ravel(order="F")])
        else:
            skipped.append(where)
            return _SKIP
        if a.ndim > 1:
            flat.do_slot_assign("dim", ri.IntSexpVector(list(a.shape)))
        return flat
    skipped.append(where)
    return _SKIP


def _reduction_name(key: str) -> str:
    return key[2:] if key.startswith("X_") else key


def _r_reduction_names(keys, upper: bool) -> dict:
    """obsm key → R reduction name, upper case for a SingleCellExperiment (``X_pca`` → ``PCA``),
    lower for Seurat; ``X_PCA`` and ``X_pca`` (as :func:`_obsm_names` reads them) keep their case."""
    names = [_reduction_name(k) for k in keys]
    return dict(zip(keys, _fold_case(names, str.upper if upper else str.lower)))


def _written_graphs(adata: ad.AnnData, left_out: list) -> dict:
    """The sparse obsp (neighbour graphs), for Seurat graphs / SCE colPairs; a dense one is
    no graph and goes to ``left_out``."""
    graphs = {}
    for key in adata.obsp.keys():
        G = adata.obsp[key]
        if sp.issparse(G):
            graphs[key] = G
        else:
            left_out.append(f"obsp[{key!r}] (dense: only sparse graphs are written)")
    return graphs


def _written_obsm(adata: ad.AnnData, left_out: list) -> dict:
    """The obsm entries R can hold as a reduction (numeric, two-dimensional), as float64; the
    others go to ``left_out``."""
    obsm = {}
    for key in adata.obsm.keys():
        val = adata.obsm[key]
        if isinstance(val, pd.DataFrame):
            if not all(pd.api.types.is_numeric_dtype(t) for t in val.dtypes):
                left_out.append(f"obsm[{key!r}]")
                continue
            val = val.to_numpy(dtype=np.float64)
        if sp.issparse(val) or np.asarray(val).ndim != 2 or not np.issubdtype(np.asarray(val).dtype, np.number):
            left_out.append(f"obsm[{key!r}]")
            continue
        obsm[key] = np.asarray(val, dtype=np.float64)
    return obsm


def _r_embedding(R, val: np.ndarray, cells: list, key: str):
    """A cells × d embedding as an R matrix with the cells as row names."""
    return R("make_dense", R.num_vec(np.asfortranarray(val).ravel(order="F")),
             R.ri.IntSexpVector([val.shape[0]]), R.ri.IntSexpVector([val.shape[1]]),
             R.str_vec(cells), R.ri.NULL, context=f"writing obsm[{key!r}]")


def _build_sce(R, adata, cells, genes, obsm, graphs, meta, source, rename, left_out, x_assay=None):
    """The SingleCellExperiment of :func:`write_rds` (its docstring says what goes where)."""
    read_from = source.get("X_assay")
    if read_from in adata.layers:
        read_from = None
    x_name = x_assay or read_from or ("X" if "counts" in adata.layers else "counts")
    if x_name in adata.layers:
        raise InputError(f"x_assay {x_name!r} is also the name of a layer; choose another.")
    assays = {x_name: _r_matrix(R, adata.X, cells, genes, "X")}
    layer_names = source.get("layers")
    layer_names = layer_names if isinstance(layer_names, dict) else {}
    for name in adata.layers.keys():
        r_name = layer_names.get(name, name)  # Seurat's data slot: Bioconductor's logcounts
        if r_name in assays or r_name in adata.layers:
            r_name = name
        assays[r_name] = _r_matrix(R, adata.layers[name], cells, genes, f"layers[{name!r}]")
    reduced = {}
    r_names = _r_reduction_names(list(obsm), upper=True)
    for key, val in obsm.items():
        rname = r_names[key]
        if rname in reduced:
            left_out.append(f"obsm[{key!r}] (reducedDim {rname!r} taken)")
            continue
        reduced[rname] = _r_embedding(R, val, cells, key)
    return R("build_sce", R.list_(assays), _r_frame(R, adata.obs, "obs", rename), _r_frame(R, adata.var, "var"),
             R.list_(reduced), meta, _r_graphs(R, graphs, cells), context="building the SingleCellExperiment")


def _seurat_counts_and_data(R, adata, cells, genes, left_out):
    """The counts and data slots, and the layer that filled data (None when none did)."""
    data_key = next((n for n in ("data", "logcounts") if n in adata.layers), None)
    if "counts" in adata.layers:
        # the counts slot takes the counts; X (scanpy's normalised values, as a rule) is the data slot
        counts = _r_matrix(R, adata.layers["counts"], cells, genes, "layers['counts']")
        if data_key:
            left_out.append(f"X (layers['counts'] and layers[{data_key!r}] fill the counts and data slots)")
            data = _r_matrix(R, adata.layers[data_key], cells, genes, f"layers[{data_key!r}]")
        else:
            data = _r_matrix(R, adata.X, cells, genes, "X")
    else:
        counts = _r_matrix(R, adata.X, cells, genes, "X")
        data = (_r_matrix(R, adata.layers[data_key], cells, genes, f"layers[{data_key!r}]") if data_key
                else R.ri.NULL)
    return counts, data, data_key


def _seurat_scale_data(R, adata, cells, genes, obsm):
    """The scale.data slot and the genes it covers (NULL: all): from ``layers["scale.data"]``,
    or from ``obsm["scale.data"]`` over some genes as read from Seurat (then taken out of obsm)."""
    if "scale.data" in adata.layers:
        layer = adata.layers["scale.data"]
        layer = layer.toarray() if sp.issparse(layer) else layer
        return _r_matrix(R, np.asarray(layer, dtype=np.float64), cells, genes, "layers['scale.data']"), R.ri.NULL
    sd = adata.obsm["scale.data"] if "scale.data" in adata.obsm else None
    if isinstance(sd, pd.DataFrame) and list(sd.index) == cells and sd.columns.isin(adata.var_names).all():
        rows = adata.var_names.get_indexer(sd.columns)
        obsm.pop("scale.data", None)
        scale = _r_matrix(R, sd.to_numpy(dtype=np.float64), cells, [genes[j] for j in rows], "obsm['scale.data']")
        return scale, R.num_vec((rows + 1).astype(np.int32))
    return R.ri.NULL, R.ri.NULL


def _seurat_variable_features(R, var: pd.DataFrame):
    """The variable features (positions, in rank order where ranked) and var without the
    columns that gave them."""
    if not ("highly_variable" in var.columns and pd.api.types.is_bool_dtype(var["highly_variable"].dtype)):
        return R.ri.IntSexpVector([]), var
    hv = var["highly_variable"].to_numpy(dtype=bool, na_value=False)
    order = np.flatnonzero(hv)
    if "highly_variable_rank" in var.columns:  # VariableFeatures in rank order, as read
        rank = pd.to_numeric(var["highly_variable_rank"], errors="coerce").to_numpy(dtype=np.float64)
        order = order[np.argsort(rank[order], kind="stable")]
        var = var.drop(columns="highly_variable_rank")
    return R.num_vec((order + 1).astype(np.int32)), var.drop(columns="highly_variable")


def _seurat_reductions(R, obsm, cells, left_out):
    """DimReducs and their keys (unique between reductions, as Seurat requires)."""
    reductions, keys = {}, {}
    r_names = _r_reduction_names(list(obsm), upper=False)
    used_keys: set = set()
    for key, val in obsm.items():
        rname = r_names[key]
        if rname in reductions:
            left_out.append(f"obsm[{key!r}] (reduction {rname!r} taken)")
            continue
        rkey = _SEURAT_KEYS.get(rname) or (re.sub(r"[^A-Za-z0-9]", "", rname.upper()) or "DR") + "_"
        base, n = rkey[:-1], 2
        while rkey in used_keys:  # Seurat's keys must differ between reductions
            rkey, n = f"{base}{n}_", n + 1
        used_keys.add(rkey)
        reductions[rname] = _r_embedding(R, val, cells, key)
        keys[rname] = R.str_vec([rkey])
    return reductions, keys


def _seurat_idents(R, obs: pd.DataFrame, obs_names: list, source: dict, rename: dict):
    """The identities: those of the Seurat object read_rds read (the column it found them in,
    or obs["ident"] where it put them), kept as runScLSTM() keeps them unless set.ident = TRUE
    (before: the ScLSTM clusters took their place, even when nothing had been run since the
    read); else the ScLSTM clusters; else obs["ident"], orig.ident; else none."""
    ident_column = source.get("idents")
    if isinstance(ident_column, str) and ident_column in obs.columns:
        return R.str_vec([rename.get(ident_column, ident_column)])
    for column in (_CLUSTERS_R, "ident", "orig.ident"):
        if column in (obs_names if column == _CLUSTERS_R else obs.columns):
            return R.str_vec([column])
    return R.ri.NULL


def _build_seurat(R, adata, cells, genes, obsm, graphs, meta, source, rename, left_out, x_assay=None):
    """The Seurat object (assay RNA) of :func:`write_rds` (its docstring says what goes where);
    ``x_assay`` is an SCE's only."""
    counts, data, data_key = _seurat_counts_and_data(R, adata, cells, genes, left_out)
    scale, scale_rows = _seurat_scale_data(R, adata, cells, genes, obsm)
    left_out += [f"layers[{n!r}]" for n in adata.layers.keys() if n not in (data_key, "scale.data", "counts")]
    var_features, var = _seurat_variable_features(R, adata.var)
    reductions, keys = _seurat_reductions(R, obsm, cells, left_out)
    obs = adata.obs
    obs_names = [rename.get(str(c), str(c)) for c in obs.columns]
    idents = _seurat_idents(R, obs, obs_names, source, rename)
    taken = set(obs_names) | set(reductions) | {"RNA"}  # a Seurat object's [[ ]] names are one namespace
    left_out += [f"obsp[{key!r}] (name taken)" for key in graphs if key in taken]
    graphs = {key: G for key, G in graphs.items() if key not in taken}
    return R("build_seurat", counts, data, scale, _r_frame(R, obs, "obs", rename), _r_frame(R, var, "var"),
             R.list_(reductions), R.list_(keys), meta, idents, var_features, scale_rows,
             _r_graphs(R, graphs, cells), context="building the Seurat object")


def write_rds(adata: ad.AnnData, path, kind: str = "SingleCellExperiment", x_assay=None) -> None:
    """Write ``adata`` to ``path`` (.rds) as a SingleCellExperiment (default) or a Seurat object.

    SingleCellExperiment: X → assay ``counts`` (``"X"`` when a layer is already called
    ``counts``; the assay X was read from, when :func:`read_rds` read it from another; or
    ``x_assay``), layers → assays, obs → colData, var → rowData, obsm →
    reducedDims (``X_pca`` → ``"PCA"``, ``X_sclstm`` → ``"SCLSTM"``), sparse obsp → colPairs,
    uns → metadata.
    Seurat (assay ``RNA``): X → counts, layers ``data`` / ``logcounts`` → data (with a layer
    ``counts``: that layer → counts and X → data, unless a data layer exists), ``scale.data``
    → scale.data, obs → meta.data, var → meta.features, ``var["highly_variable"]`` →
    variable features, obsm → DimReducs (``X_sclstm`` → ``"sclstm"``, key ``"SCLSTM_"``), uns
    → misc, sparse obsp → graphs (assay ``RNA``); the ScLSTM clusters become the identities (else the meta.data column
    :func:`read_rds` found them in, ``obs["ident"]`` or ``orig.ident``). A ``data`` layer that
    :func:`read_rds` took from a Seurat data slot becomes the SCE assay ``logcounts``. In both, ``obs["sclstm"]`` is named
    ``sclstm_clusters`` (the R package's convention). Sparse matrices stay sparse (dgCMatrix).
    """
    if not isinstance(adata, ad.AnnData):
        raise InputError(f"write_rds expects an AnnData, got {type(adata).__name__}.")
    k = str(kind).lower()
    if k in ("singlecellexperiment", "sce"):
        k = "sce"
    elif k == "seurat":
        k = "seurat"
    else:
        raise InputError(f"kind must be 'SingleCellExperiment' or 'Seurat', got {kind!r}.")
    if adata.X is None:
        raise InputError("the AnnData has no X to write.")
    if adata.isbacked:
        raise InputError("the AnnData is backed (on disk); load it with adata.to_memory() first.")
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    check_folder(path)
    check_names_for_r(adata)
    R = _R.get()
    cells, genes = [str(c) for c in adata.obs_names], [str(g) for g in adata.var_names]
    rename = {_CLUSTERS_PY: _CLUSTERS_R} if (_CLUSTERS_PY in adata.obs.columns
                                             and _CLUSTERS_R not in adata.obs.columns) else {}
    left_out = [f"varm[{k!r}]" for k in adata.varm.keys()]
    left_out += [f"varp[{k!r}]" for k in adata.varp.keys()] + (["raw"] if adata.raw is not None else [])
    graphs = _written_graphs(adata, left_out)
    obsm = _written_obsm(adata, left_out)

    skipped: list = []
    uns = {key: v for key, v in adata.uns.items() if key != SOURCE_KEY}
    meta = _r_value(R, uns, "uns", skipped, as_list=True)
    source = adata.uns.get(SOURCE_KEY)
    source = source if isinstance(source, dict) else {}
    build = _build_sce if k == "sce" else _build_seurat
    obj = build(R, adata, cells, genes, obsm, graphs, meta, source, rename, left_out, x_assay=x_assay)
    if skipped:
        left_out += skipped
    if left_out:
        warn_user(f"write_rds: not written to {path} (write_rds does not convert these): {', '.join(left_out)}")
    with written_beside(path, ".rds") as partial:  # a stopped write leaves an earlier file at path whole
        R("save_rds", obj, R.str_vec([partial]), context=f"writing {path}")
