"""Format dispatch on file names, and early checks that a path can be read or written."""
from __future__ import annotations

import os
from pathlib import Path

import anndata as ad

from ..validation import InputError

R_SUFFIXES = (".rds", ".rdata", ".rda")


def _split_object_name(path: str):
    """``file.RData:name`` → (``file.RData``, ``name``); any other path → (path, None)."""
    p = str(path)
    low = p.lower()
    for suffix in (".rdata:", ".rda:"):
        i = low.rfind(suffix)
        if i >= 0:
            return p[: i + len(suffix) - 1], p[i + len(suffix):] or None
    return p, None


def read_input(path) -> ad.AnnData:
    """Read cells × genes data from .h5ad, .rds or .RData[:object]."""
    path, obj = _split_object_name(path)
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise InputError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"input is a folder, not a file: {path}")
    suffix = Path(path).suffix.lower()
    if suffix == ".h5ad":
        try:
            return ad.read_h5ad(path)
        except Exception as exc:
            raise InputError(f"could not read {path} as .h5ad ({type(exc).__name__}: {exc}).") from None
    if suffix == ".rds":
        from ._r import read_rds

        return read_rds(path)
    if suffix in (".rdata", ".rda"):
        from ._r import read_rdata

        return read_rdata(path, name=obj)
    raise InputError(
        f"unsupported input format {suffix or '(no suffix)'!r} for {path}; use .h5ad, .rds or .RData."
    )


def check_writable(path) -> None:
    """Fail before any work if ``path`` cannot be written (missing folder, no permission, bad suffix)."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in (".h5ad", ".rds"):
        raise InputError(f"unsupported output format {suffix or '(no suffix)'!r} for {path}; use .h5ad or .rds.")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist.")
    if p.is_dir():
        raise InputError(f"cannot write {path}: it is a folder.")
    target = p if p.exists() else folder
    if not os.access(target, os.W_OK):
        raise InputError(f"cannot write {path}: permission denied.")


def check_not_input(out, input_path) -> None:
    """Refuse an output path that is the input file: the user's data is not overwritten."""
    source, _ = _split_object_name(input_path)
    source, out = os.path.expanduser(source), os.path.expanduser(os.fspath(out))
    if os.path.exists(source) and os.path.exists(out) and os.path.samefile(source, out):
        raise InputError(f"--out {out} is the input file; sclstm does not overwrite its input, "
                         "choose another output path.")


def write_output(adata: ad.AnnData, path) -> None:
    """Write results as .h5ad, or as .rds (a SingleCellExperiment) through rpy2."""
    check_writable(path)
    path = os.path.expanduser(os.fspath(path))
    if Path(path).suffix.lower() == ".rds":
        from ._r import write_rds

        write_rds(adata, path)
    else:
        adata.write_h5ad(path, compression="gzip")
