"""Writing a file so that readers see the old content or the new, never a part.

Contract: `write_atomic` writes to a temporary file in the same directory (named after
the PID and thread, so concurrent writers never share one), sets `mode` before any byte
is written (a secret is never readable by others, not even for a moment), fsyncs it and
renames it over `path`.  The parent directory is created when missing.  The store keeps
its own copy of this (`raftstore` imports nothing of the control plane).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644, fsync: bool = True) -> None:
    """Replace `path` with `data` atomically (see the module's contract)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is masked by the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
