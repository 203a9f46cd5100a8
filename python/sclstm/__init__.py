"""sclstm: single-cell type detection with a siamese LSTM and hierarchical clustering.

After Jiang et al., "ScLSTM: single-cell type detection by siamese recurrent network and
hierarchical clustering", BMC Bioinformatics 24, 417 (2023).

>>> import sclstm
>>> sclstm.tl.sclstm(adata)               # scanpy style: obs["sclstm"], obsm["X_sclstm"], uns["sclstm"]
>>> est = sclstm.ScLSTM().fit(X)          # scikit-learn style: est.labels_, est.embedding_
"""
__version__ = "0.1.0"

import logging as _logging

# Like scanpy: one-line notes (which kernel, its estimated memory) reach stderr unless the
# application configures the "sclstm" logger itself (e.g. level WARNING to silence them).


class _UnlessConfigured(_logging.StreamHandler):
    """Writes a note only while the application has configured no logging of its own (no handler
    on the root logger); otherwise the note reaches the application's handlers alone. Before,
    after ``logging.basicConfig()`` every note was printed twice."""

    def emit(self, record):
        if not _logging.getLogger().handlers:
            super().emit(record)


_log = _logging.getLogger("sclstm")
if not _log.handlers:
    _handler = _UnlessConfigured()
    _handler.setFormatter(_logging.Formatter("%(message)s"))
    _log.addHandler(_handler)
    if _log.level == _logging.NOTSET:  # a level the application set before importing stays
        _log.setLevel(_logging.INFO)

from . import metrics, validation  # noqa: E402
from .estimator import ScLSTM  # noqa: E402
from .validation import InputError  # noqa: E402
from . import tl, pl, datasets, io  # noqa: E402

__all__ = ["ScLSTM", "InputError", "tl", "pl", "metrics", "datasets", "io", "validation", "__version__"]
