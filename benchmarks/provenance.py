"""Which code a result came from, for the header line of every result file."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git_version() -> str:
    """``git <short commit>``, plus a mark when python/sclstm differs from that commit (the
    package is what a fit runs); ``git ?`` outside a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "python/sclstm"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return f"git {commit or '?'}{' + uncommitted changes in python/sclstm' if dirty else ''}"
