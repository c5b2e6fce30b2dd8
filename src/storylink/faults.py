"""Storage faults in the user's words: a full disk, a read-only database, a held lock.

A write that fails this way leaves the store as it was before the batch in flight (each batch
is one transaction; index files are appended after the commit and cut back to their manifest
by the next writer), so every message ends with what to do and that running the command
again adds only what is missing.
"""

from __future__ import annotations

import errno
import resource
import shutil
import sqlite3
from pathlib import Path

from .lock import LockError, busy_message, lock_wait
from .store import StoreError

FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def explain(error: BaseException, db: Path) -> str | None:
    """What a failed read or write of the store means and what to do; None when the error
    is no storage fault (it is then reported as it is)."""
    if isinstance(error, StoreError | LockError):
        return str(error)
    text = str(error).lower()
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return busy_message(db, lock_wait())
        if "readonly" in text or "read-only" in text:
            return _read_only(db, str(error))
        if "full" in text or "disk i/o" in text:  # ENOSPC; EFBIG and failing disks
            return _full(db, str(error))
        if "unable to open" in text:
            return (
                f"{db}: cannot be opened ({error}); check that the file and its directory "
                "exist and may be written"
            )
    if isinstance(error, OSError):
        where = error.filename or db
        if error.errno in FULL:
            return _full(Path(where), error.strerror or str(error))
        if error.errno in READ_ONLY:
            return _read_only(Path(where), error.strerror or str(error))
    return None


def _full(path: Path, detail: str) -> str:
    return (
        f"{path}: could not write ({detail}; {_room(path)}). The batch being written was not "
        "saved and everything saved before is intact: free some space, then run the same "
        "command again; it adds only what is missing"
    )


def _room(path: Path) -> str:
    """What limits writing here: a file size limit on this process, else the free space."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"files may not grow beyond {soft:,} bytes here: ulimit -f"
    folder = next((p for p in (path, *path.parents) if p.is_dir()), Path("/"))
    return f"{shutil.disk_usage(folder).free / 2**20:,.0f} MB free on its file system"


def _read_only(path: Path, detail: str) -> str:
    return (
        f"{path}: storylink may not write here ({detail}): the file, its directory or the file "
        "system is read-only. Reading commands (stories, story, search) still work; to add "
        "articles, make it writable or copy the database and its .index directories elsewhere"
    )
