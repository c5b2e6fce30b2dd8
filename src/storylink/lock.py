"""One writer per store, and who it is when another one has to wait.

A writer holds an exclusive `flock` on `<db>.lock` and writes into it who it is (process id,
command line, since when). A second writer waits up to `STORYLINK_LOCK_WAIT` seconds (default
`DEFAULT_WAIT`), then fails with that record, so the user knows which process to wait for or
stop. The kernel drops the lock when its holder dies, even by SIGKILL: a stale record is
never mistaken for a live writer. The same wait applies to SQLite's own write lock, which a
program other than storylink may hold (`sqlite3` shell, a backup tool): `busy_message` names
the processes that have the file open.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

WAIT_VARIABLE = "STORYLINK_LOCK_WAIT"
DEFAULT_WAIT = 30.0  # seconds a writer waits for another one before it gives up
POLL = 0.2


class LockError(RuntimeError):
    """Another process kept the store for longer than the wait allowed."""


def lock_wait() -> float:
    """Seconds to wait for another writer: `STORYLINK_LOCK_WAIT`, else `DEFAULT_WAIT`."""
    value = os.environ.get(WAIT_VARIABLE, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_WAIT
    except ValueError:
        return DEFAULT_WAIT


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def hold(db: Path, wait: float | None = None) -> IO[str]:
    """The writer lock of `db`, waiting up to `wait` seconds (default `lock_wait()`) for the
    process holding it; LockError saying who holds it when the wait is over."""
    wait = lock_wait() if wait is None else wait
    path = lock_path(db)
    # opened without truncating: the holder's record stays readable for those who wait
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    handle = open(descriptor, "r+", encoding="utf-8")  # noqa: SIM115 (held until release)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = describe_holder(handle.read())
                handle.close()
                raise LockError(
                    f"{db}: another storylink process is writing to it ({holder}); waited "
                    f"{wait:.0f} s. Let it finish or stop it, then run this again "
                    f"(set {WAIT_VARIABLE}=SECONDS to wait longer)"
                ) from None
            time.sleep(POLL)
    record = {
        "pid": os.getpid(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(record))
    handle.flush()
    return handle


def release(handle: IO[str]) -> None:
    """Give the lock up; the record is cleared first so nobody reads a finished writer."""
    handle.seek(0)
    handle.truncate()
    handle.close()


def describe_holder(record: str) -> str:
    """A holder record in words: "pid 123, `storylink ingest …`, since 2026-…"."""
    try:
        data = json.loads(record)
        return f"pid {data['pid']}, `{data['command']}`, since {data['since']}"
    except (ValueError, KeyError, TypeError):
        return "a process that left no record"


def processes_using(path: Path) -> list[str]:
    """ "pid N (command)" of the processes that have `path` open (Linux /proc; those this
    user may inspect)."""
    target = path.resolve()
    found: list[str] = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            if any(Path(os.readlink(fd)) == target for fd in (entry / "fd").iterdir()):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                found.append(f"pid {entry.name} ({command[:120]})")
        except OSError:
            continue
    return found


def busy_message(db: Path, wait: float) -> str:
    """Why a write to `db` gave up: SQLite's write lock stayed taken for `wait` seconds."""
    holders = processes_using(db)
    who = "; ".join(holders) if holders else "no process this user can see"
    return (
        f"{db}: the database stayed locked by another program for {wait:.0f} s (open in: "
        f"{who}). Close that program's transaction or stop it, then run this again "
        f"(set {WAIT_VARIABLE}=SECONDS to wait longer)"
    )
