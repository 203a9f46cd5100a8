"""Format dispatch on file names, and early checks that a path can be read or written."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import anndata as ad

from ..validation import InputError

_WINDOWS = os.name == "nt"  # where another program holding a file open stops its replacement


def _split_object_name(path: str):
    """``file.RData:name`` → (``file.RData``, ``name``); any other path → (path, None).
    ``file.rds:name`` too: an .RData file saved under an .rds name is read by its content."""
    p = str(path)
    low = p.lower()
    for suffix in (".rdata:", ".rda:", ".rds:"):
        i = low.rfind(suffix)
        if i >= 0:
            return p[: i + len(suffix) - 1], p[i + len(suffix):] or None
    return p, None


def read_input(path, assay=None, genes_by_cells=None) -> ad.AnnData:
    """Read cells × genes data from .h5ad, .rds or .RData[:object]; ``assay`` and
    ``genes_by_cells`` are for R files only (see :func:`read_rds`)."""
    path, obj = _split_object_name(path)
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise InputError(f"input file not found: {path}")
    if os.path.isdir(path):
        zarr_hint = ("; a Zarr store is read in Python, not by the command line: see the README's "
                     "out-of-core example" if path.rstrip("/\\").lower().endswith(".zarr") else "")
        raise InputError(f"input is a folder, not a file: {path}{zarr_hint}")
    suffix = Path(path).suffix.lower()
    if suffix == ".h5ad":
        if assay is not None or genes_by_cells is not None:
            raise InputError(f"{path} is an .h5ad file, cells × genes with one X: assay= and genes_by_cells= "
                             "are for R files (.rds, .RData); use layer= to read another matrix.")
        try:
            check_self_contained(path)
            return ad.read_h5ad(path)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"could not read {path} as .h5ad ({type(exc).__name__}: {exc}).") from None
    if suffix == ".rds":
        from ._r import read_rds

        if obj is not None:  # read by content: an .RData under an .rds name, or the error for an .rds
            from ._r import read_rdata

            return read_rdata(path, name=obj, assay=assay, genes_by_cells=genes_by_cells)
        return read_rds(path, assay=assay, genes_by_cells=genes_by_cells)
    if suffix in (".rdata", ".rda"):
        from ._r import read_rdata

        return read_rdata(path, name=obj, assay=assay, genes_by_cells=genes_by_cells)
    raise InputError(
        f"unsupported input format {suffix or '(no suffix)'!r} for {path}; use .h5ad, .rds or .RData."
    )


def check_self_contained(path) -> None:
    """Refuse an HDF5 file with data kept outside it: a dataset stored in other files (HDF5's
    external storage, or a virtual dataset) or a link to another file. anndata follows them, so
    such an .h5ad read any file this user may read as its counts, and one in ``uns`` was copied
    into the output whole (a file from someone else, written to exfiltrate). Metadata only."""
    import h5py

    with h5py.File(path, "r") as f:
        links = []
        f.id.links.visit(lambda name, info: links.append(name) if info.type not in (h5py.h5l.TYPE_HARD,
                                                                                    h5py.h5l.TYPE_SOFT) else None,
                         info=True)
        outside = [name.decode() if isinstance(name, bytes) else name for name in links]
        f.visititems(lambda name, obj: outside.append(name) if isinstance(obj, h5py.Dataset)
                     and (obj.external or obj.is_virtual) else None)
    if outside:
        raise InputError(f"{path} refers to data outside itself ({', '.join(sorted(set(outside))[:3])}"
                         f"{', …' if len(set(outside)) > 3 else ''}: external storage or a link to another file), "
                         "which sclstm does not follow; rewrite the file with its data inside, from a source you trust.")


def check_folder(path, what: str | None = None) -> None:
    """Fail before any work if ``path`` is a folder, or if the folder it is to be written in is
    missing, is a file, or may not be written in: every file is written beside ``path`` and renamed onto it
    (:func:`written_beside`), so the folder needs write permission even where ``path`` exists.
    ``what`` begins the message (default "cannot write PATH")."""
    what = what or f"cannot write {path}"
    if Path(os.fspath(path)).expanduser().is_dir():  # before: found when renaming into place, after the work
        raise InputError(f"{what}: it is a folder, not a file.")
    folder = Path(os.fspath(path)).expanduser().absolute().parent
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{what}: {folder} is a file, not a folder.")
    if not folder.is_dir():
        raise InputError(f"{what}: the folder {folder} does not exist.")
    refused = _why_not_writable(folder)
    if refused is not None:
        raise InputError(f"{what}: {refused} in the folder {folder}.")


def _why_not_writable(folder) -> "str | None":
    """Why no file can be made in ``folder``, found by making one, or None where one can: on
    Windows ``os.access`` says every folder may be written (Program Files, a folder under
    Controlled Folder Access), and the refusal came after the whole fit."""
    import errno
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        return "no permission to write"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as exc:  # a refusal, or a full disk, a quota, a read-only file system: said as it is
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
            return "no permission to write"
        return f"cannot write ({exc.strerror or type(exc).__name__})"


def check_writable(path) -> None:
    """Fail before any work if ``path`` cannot be written (bad suffix, folder as in
    :func:`check_folder`, a folder or a read-only file at ``path``)."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in (".h5ad", ".rds"):
        raise InputError(f"unsupported output format {suffix or '(no suffix)'!r} for {path}; use .h5ad or .rds.")
    check_replaceable(path)


def check_replaceable(path, what: str | None = None) -> None:
    """:func:`check_folder`, and no read-only file at ``path``: it would be replaced by a rename,
    which the folder allows, but the user protected it. ``what`` as in :func:`check_folder`."""
    what = what or f"cannot write {path}"
    check_folder(path, what)
    p = Path(os.fspath(path)).expanduser()
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{what}: the file is read-only.")


def check_names_for_r(adata) -> None:
    """R objects need unique cell and gene names: checked before any work when the output is .rds."""
    for axis, names in (("cell (obs)", adata.obs_names), ("gene (var)", adata.var_names)):
        if not names.is_unique:
            which = "obs" if axis.startswith("cell") else "var"
            dup = names[names.duplicated()].unique()
            raise InputError(f"{axis} names are not unique ({', '.join(map(str, dup[:3]))}"
                             f"{f' and {dup.size - 3} more' if dup.size > 3 else ''}), which the R objects "
                             f"written as .rds need; make them unique first (Python: adata.{which}_names_make_unique(); "
                             "R: make.unique()), or write .h5ad.")


def output_is_r(path) -> bool:
    """Whether an output path asks for an R file (.rds), written through rpy2."""
    return Path(os.fspath(path)).suffix.lower() == ".rds"


def same_file(a, b) -> bool:
    """Whether two paths (``~`` expanded) name one existing file: an output about to replace an input."""
    a, b = os.path.expanduser(os.fspath(a)), os.path.expanduser(os.fspath(b))
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def check_not_input(out, input_path) -> None:
    """Refuse an output path that is the input file: the user's data is not overwritten."""
    source, _ = _split_object_name(input_path)
    if same_file(out, source):
        raise InputError(f"--out {os.path.expanduser(os.fspath(out))} is the input file; sclstm does not "
                         "overwrite its input, choose another output path.")


def write_output(adata: ad.AnnData, path) -> None:
    """Write results as .h5ad, or as .rds (a SingleCellExperiment) through rpy2.

    Written to a hidden file beside ``path``, then renamed onto it (:func:`write_rds` does the
    same): a run stopped while writing leaves an earlier file at ``path`` as it was."""
    check_writable(path)
    path = os.path.expanduser(os.fspath(path))
    if output_is_r(path):
        from ._r import write_rds

        write_rds(adata, path)
        return
    with written_beside(path, ".h5ad") as partial:
        adata.write_h5ad(partial, compression="gzip")


@contextmanager
def written_beside(path, suffix: str = ""):
    """A hidden file name beside ``path`` to write to; renamed onto ``path`` when the block
    ends normally, removed when it does not, so that a write stopped midway leaves an earlier
    file at ``path`` whole. ``suffix`` for writers that go by the file name (anndata: .h5ad).
    Where ``path`` cannot be replaced (Windows refuses while another program holds the file
    open) the finished file is kept and named in the error, not deleted."""
    path = os.path.expanduser(os.fspath(path))
    partial = _new_file_beside(path, suffix)
    kept = False
    try:
        yield partial
        try:
            _replace(partial, path)
        except PermissionError as exc:  # the rename only: the writer's own errors pass as they are
            kept = os.path.exists(partial)
            where = f"; the result is kept in {partial}" if kept else ""
            why = ("is it open in another program? close it or write to another file" if _WINDOWS
                   else exc.strerror or "permission denied")
            raise InputError(f"cannot replace {path}: permission denied ({why}){where}.") from exc
    finally:
        if not kept and os.path.exists(partial):
            os.remove(partial)


def _new_file_beside(path: str, suffix: str) -> str:
    """An empty hidden file beside ``path``, made by this call (exclusive creation) under a name
    not known in advance: the process id alone let anyone who may write in a shared folder plant
    a link there, and the writer then wrote through it onto a file of their choosing. (The writer
    opens the file again by name; in a folder without the sticky bit, such as /tmp has, another
    user could still swap it in between.)"""
    import secrets

    folder, name = os.path.split(path)
    for _ in range(100):
        partial = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part{suffix}")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # never follows a link
            return partial
        except FileExistsError:
            continue
    raise InputError(f"cannot write {path}: no free temporary name beside it.")  # pragma: no cover


def _replace(partial: str, path: str) -> None:
    """os.replace, tried again briefly where Windows refuses it: a virus scanner or an indexer
    holds a new file open for a moment. Elsewhere a refusal is permanent."""
    import time

    tries = 3 if _WINDOWS else 1
    for attempt in range(tries):
        try:
            os.replace(partial, path)
            return
        except PermissionError:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)
