"""Signal handlers installed for the length of a block, in the main thread only (Python runs
handlers there; another thread's block leaves them alone), and restored after it."""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def handling(signals, handler, replaces=lambda current: True):
    """Run the block with ``handler`` for those of ``signals`` whose current handler
    ``replaces`` accepts; yields {signal: the handler it replaced} (empty outside the main
    thread), so a caller can pass a signal on to what was there before. A handler installed
    outside Python (``getsignal`` gives None) cannot be put back, so it is never replaced."""
    if threading.current_thread() is not threading.main_thread():
        yield {}
        return
    current = {s: signal.getsignal(s) for s in signals}
    replaced = {s: h for s, h in current.items() if h is not None and replaces(h)}
    for s in replaced:
        signal.signal(s, handler)
    try:
        yield replaced
    finally:
        for s, before in replaced.items():
            signal.signal(s, before)
