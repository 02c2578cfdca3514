"""The scratch folder ``--verify`` re-runs an analysis in, and the removal of the ones a
killed ``--verify`` left behind.

``--verify`` removes its scratch folder when it ends, also on SIGINT and SIGTERM; SIGKILL
(the kernel's out-of-memory killer, ``kill -9``, a job scheduler's last resort) cannot be
caught, so that folder stays in the temporary folder. Each scratch folder is therefore made
as ``ale-app-verify-<pid>-<random>`` with a marker file naming its owner: the process id, that
process's start time (field 22 of ``/proc/<pid>/stat``, so that a reused process id is not
taken for the owner), the host name, the boot and the process-id namespace. A later ale-app
removes a folder only when all of this holds:

- its name starts with ``ale-app-verify-<pid>-`` and it is a folder, not a link, owned by the
  same user;
- it holds a marker of ours (a regular file of this user, a JSON object of the fields above,
  naming the same pid as the folder name);
- the marker was written on this host in this process-id namespace (a process elsewhere
  cannot be seen from here, so its folder is kept), and its owner is gone: the machine has
  rebooted since, no process has that id, or the process with that id started at another
  time.

Anything else in the temporary folder is never touched. Imports nothing of ale-app but
:mod:`ale_app.files`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

from ale_app.files import GiB, MiB

LGR = logging.getLogger("ale_app")

#: The name every scratch folder of ``--verify`` starts with.
PREFIX = "ale-app-verify-"
#: The marker file in a scratch folder that names the process that owns it.
MARKER = ".ale-app-scratch.json"
#: What the marker says it is.
KIND = "ale-app --verify scratch folder"
#: A marker is a few hundred bytes; anything larger is not ours.
MARKER_LIMIT = 4096


def _read_small(path: str, limit: int = MARKER_LIMIT) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22),
    or None when it cannot be read (no such process, no ``/proc``)."""
    text = _read_small(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    try:
        return int(fields[19])  # fields[0] is field 3 (the state)
    except (IndexError, ValueError):
        return None


def _identity() -> dict:
    """What a marker records of the process writing it, and what a later one compares."""
    boot = _read_small("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = None
    pid = os.getpid()
    return {"kind": KIND, "pid": pid, "start": process_start(pid), "host": socket.gethostname(),
            "boot": boot.strip() if boot else None, "pidns": pidns}


def make_scratch(root: Path | None = None) -> Path:
    """A new scratch folder ``ale-app-verify-<pid>-<random>`` in ``root`` (the temporary
    folder by default, i.e. ``TMPDIR``), with its marker written first thing."""
    me = _identity()
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{me['pid']}-", dir=root))
    fd = os.open(folder / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(me) + "\n")
    return folder


def _marker(folder: Path, uid: int) -> dict | None:
    """The marker of a folder of ours, or None when it has none that is valid."""
    path = folder / MARKER
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_size > MARKER_LIMIT:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            record = json.loads(fh.read(MARKER_LIMIT + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        return None
    pid = record.get("pid")
    if type(pid) is not int or pid <= 0 or not folder.name.startswith(f"{PREFIX}{pid}-"):
        return None
    if not (record.get("start") is None or type(record.get("start")) is int):
        return None
    if not all(record.get(k) is None or isinstance(record.get(k), str) for k in ("host", "boot", "pidns")):
        return None
    return record


def owner_gone(record: dict, me: dict | None = None) -> bool:
    """Whether the process a marker names has certainly ended (else the folder is kept)."""
    me = _identity() if me is None else me
    if record.get("host") != me["host"] or record.get("pidns") != me["pidns"]:
        return False  # another machine or container: its processes cannot be seen from here
    if record.get("boot") and me["boot"] and record["boot"] != me["boot"]:
        return True  # written before the last reboot
    pid = record["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # it exists (another user's process): the start time decides
    start = process_start(pid)
    return start is not None and record.get("start") is not None and start != record["start"]


def _size(folder: Path) -> int:
    """The bytes of the files in ``folder`` (links not followed)."""
    total = 0
    for top, _, files in os.walk(folder, followlinks=False):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass
    return total


def size_words(n: int) -> str:
    """``"3,141 bytes"``, ``"12.3 MiB"``, ``"1.50 GiB"``."""
    if n < MiB:
        return f"{n:,} bytes"
    if n < GiB:
        return f"{n / MiB:.1f} MiB"
    return f"{n / GiB:.2f} GiB"


def remove_stale_scratch(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of ``--verify`` runs that were killed before they could
    remove them, in ``root`` (the temporary folder by default); return those removed.

    Never raises for a folder it cannot read or remove (it is kept, and logged at debug).
    """
    root = Path(tempfile.gettempdir() if root is None else root)
    uid = os.getuid()
    me = _identity()
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(PREFIX)]
    except OSError as exc:
        LGR.debug("cannot list %s for stale --verify scratch folders: %s", root, exc)
        return removed
    for entry in entries:
        folder = Path(entry.path)
        try:
            st = os.lstat(folder)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            continue
        record = _marker(folder, uid)
        if record is None or not owner_gone(record, me):
            continue
        size = _size(folder)
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            LGR.debug("cannot remove the stale --verify scratch folder %s: %s", folder, exc)
            continue
        LGR.info("removed %s (%s), the scratch folder of a --verify (process %d) that was killed "
                 "before it could remove it", folder, size_words(size), record["pid"])
        removed.append(folder)
    return removed
