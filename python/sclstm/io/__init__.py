"""Reading and writing the files sclstm takes and gives.

``read_input(path)`` / ``write_output(adata, path)`` choose the format from the file name:
``.h5ad`` natively; ``.rds`` / ``.RData`` through rpy2 (optional extra ``sclstm[r]``).
"""
from ._files import (read_input, write_output, check_writable, check_not_input, check_names_for_r,  # noqa: F401
                     output_is_r)


_R_CONVERTERS = ("read_rds", "read_rdata", "write_rds")
__all__ = ["read_input", "write_output", *_R_CONVERTERS]


def __getattr__(name):
    # R converters load lazily: importing sclstm must not need R or rpy2.
    if name in _R_CONVERTERS:
        from . import _r

        return getattr(_r, name)
    raise AttributeError(name)


def __dir__():  # so that help() and tab completion show the lazily loaded converters
    return sorted(set(globals()) | set(_R_CONVERTERS))
