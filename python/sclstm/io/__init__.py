"""Reading and writing the files sclstm takes and gives.

``read_input(path)`` / ``write_output(adata, path)`` choose the format from the file name:
``.h5ad`` natively; ``.rds`` / ``.RData`` through rpy2 (optional extra ``sclstm[r]``).
"""
from ._files import (read_input, write_output, check_writable, check_not_input, check_names_for_r,  # noqa: F401
                     output_is_r)


def __getattr__(name):
    # R converters load lazily: importing sclstm must not need R or rpy2.
    if name in ("read_rds", "read_rdata", "write_rds"):
        from . import _r

        return getattr(_r, name)
    raise AttributeError(name)
