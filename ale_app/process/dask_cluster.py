"""The distributed path: ``--parallel-backend dask --dask-scheduler ADDRESS``.

Everything a user can get wrong here is answered before any output is written, within a
bounded time, with one message and an exit code:

- the address is checked first, without touching the network (exit 64, usage): the
  accepted forms are :data:`ADDRESS_FORMS`;
- the peer must answer the way a dask scheduler does within :data:`ANSWER_TIMEOUT`
  seconds: a dask scheduler speaks first (dask's handshake), so a silent listener, an
  HTTP server (the dashboard, port 8787, is the usual mistake) or a service that sends
  another protocol's banner is refused without reading more than a small frame (exit 69,
  unavailable);
- a scheduler without workers is waited for (``--dask-wait`` seconds, progress logged),
  then refused with the command that starts a worker (exit 69);
- during a run, a task whose worker dies is run again elsewhere (dask reschedules it, and
  ale-app resubmits one that dask gave up on); when every worker is gone for
  ``--dask-wait`` seconds, or the scheduler goes away, the run stops with a message naming
  the step (exit 69), never a ``CancelledError``.

Results never depend on any of this: each item's result depends on the item alone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import logging
import re
import socket
import struct
import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from ale_app.errors import ServiceUnavailable, UsageError

LGR = logging.getLogger("ale_app")

#: The scheduler address forms ale-app accepts (dask's default port is 8786).
ADDRESS_FORMS = ("tcp://HOST:PORT", "tls://HOST:PORT", "HOST:PORT (tcp)", "tcp://[IPv6]:PORT")

#: Seconds the scheduler has to accept the connection and answer as a dask scheduler.
ANSWER_TIMEOUT = 5.0

#: Default seconds to wait for a worker (at the start, and when every worker is lost).
DEFAULT_WAIT = 120.0

#: How often a wait logs its progress (seconds).
PROGRESS_EVERY = 10.0

#: How many times ale-app submits one item whose workers died (dask itself reruns it on
#: another worker up to its ``allowed-failures``, 3, each time).
MAX_SUBMISSIONS = 3

#: Dask's own retries of an item that raised (a worker running out of memory, say).
TASK_RETRIES = 1

#: A dask handshake is a small frame; anything announcing more is another protocol.
_MAX_HANDSHAKE = 1 << 16

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
                       r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$")


def _forms() -> str:
    return ", ".join(ADDRESS_FORMS)


def check_address(scheduler: str) -> tuple[str, str, int]:
    """``(protocol, host, port)`` of a ``--dask-scheduler`` address, or a :class:`UsageError`
    (exit 64) naming the accepted forms. Touches no network."""
    text = scheduler.strip()

    def refuse(why: str, hint: str | None = None):
        raise UsageError(f"--dask-scheduler {scheduler!r}: {why}.",
                         hint=hint or f"Give the scheduler's address as one of: {_forms()}; "
                         "'dask scheduler' prints it as 'Scheduler at: tcp://...'.")

    if not text:
        refuse("the address is empty")
    protocol, sep, rest = text.partition("://")
    if not sep:
        protocol, rest = "tcp", text
    protocol = protocol.lower()
    if protocol in ("http", "https"):
        refuse(f"{protocol}:// is the address of a web page (the dashboard, for instance), not of a scheduler",
               f"The scheduler listens on its own port (8786 by default; the dashboard's 8787 is not it): "
               f"give one of: {_forms()}.")
    if protocol == "ucx":
        if importlib.util.find_spec("distributed_ucxx") is None:  # dask's UCX comm, an optional plug-in
            refuse("ucx:// needs UCX (the distributed-ucxx package), which is not installed",
                   f"Use the scheduler's tcp:// address, or install distributed-ucxx; accepted: {_forms()}.")
    elif protocol == "inproc":
        refuse("inproc:// addresses exist only inside one Python process")
    elif protocol not in ("tcp", "tls"):
        refuse(f"unknown protocol {protocol + '://'!r}")
    if rest.startswith("["):  # [IPv6]:PORT
        host, bracket, port_text = rest[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            refuse("an IPv6 address is written in brackets and followed by the port, e.g. tcp://[::1]:8786")
        port_text = port_text[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            refuse(f"{host!r} is not an IPv6 address")
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon:
            refuse("the port is missing (the scheduler's default is 8786)")
        if ":" in host:
            refuse("an IPv6 address needs brackets, e.g. tcp://[::1]:8786")
        if not host or not _HOSTNAME.match(host):
            refuse(f"{host!r} is not a host name or IP address")
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        refuse(f"the port {port_text!r} is not a number from 1 to 65535")
    return protocol, host, int(port_text)


def _security(protocol: str, scheduler: str):
    """dask's connection arguments for ``protocol`` (TLS from dask's configuration)."""
    from distributed.security import Security

    security = Security()
    args = security.get_connection_args("client")
    if protocol == "tls" and args.get("ssl_context") is None:
        raise UsageError(f"--dask-scheduler {scheduler!r}: tls:// needs dask's TLS settings, and none are set.",
                         hint="Set the client certificate in dask's configuration (DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
                         "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and ...__KEY), or use the tcp:// address.")
    return args


def _unavailable(scheduler: str, what: str, hint: str | None = None) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The dask scheduler at {scheduler}: {what}.",
        hint=hint or "Check the address and that the scheduler is running: 'dask scheduler' prints its "
        "address as 'Scheduler at: tcp://HOST:PORT' (port 8786 by default; the dashboard's port, 8787, is not it).")


def probe_scheduler(scheduler: str, protocol: str, host: str, port: int, connection_args: dict,
                    timeout: float = ANSWER_TIMEOUT) -> dict:
    """Check, within ``timeout`` seconds, that a dask scheduler answers at the address and
    return its identity (``n_workers``, ``total_threads``...). Anything else is a
    :class:`ServiceUnavailable` (exit 69) saying what answered."""
    deadline = time.monotonic() + timeout
    sock = None
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        if protocol == "tls":
            sock = connection_args["ssl_context"].wrap_socket(sock, server_hostname=host)
        header = _read_exactly(sock, 8, deadline)
        if header is None:
            raise _unavailable(scheduler, f"it accepted the connection but sent nothing within {timeout:g} s, "
                               "while a dask scheduler answers at once: this is not a dask scheduler's port "
                               "(a web server or the dashboard, for instance)")
        (size,) = struct.unpack("<Q", header)
        if not 0 < size <= _MAX_HANDSHAKE:
            more = _read_some(sock, 24, min(deadline, time.monotonic() + 0.2))
            raise _unavailable(scheduler, f"it answered with something other than dask's protocol "
                               f"(first bytes {_shown(header + more)}): another service listens there")
        body = _read_exactly(sock, size, deadline)
        if body is None or not _is_dask_handshake(body):
            raise _unavailable(scheduler, f"it answered with something other than dask's protocol "
                               f"(first bytes {_shown(header + (body or b''))})")
    except socket.timeout:
        raise _unavailable(scheduler, f"no connection within {timeout:g} s") from None
    except socket.gaierror as exc:
        raise _unavailable(scheduler, f"the host name {host!r} cannot be resolved ({exc.strerror or exc})",
                           hint="Check the host name in --dask-scheduler.") from None
    except ConnectionRefusedError:
        raise _unavailable(scheduler, f"nothing listens on port {port} of {host} (connection refused)") from None
    except OSError as exc:
        if isinstance(exc, ServiceUnavailable):
            raise
        raise _unavailable(scheduler, f"cannot connect: {exc.strerror or exc}") from None
    finally:
        if sock is not None:
            sock.close()
    identity = _identity(scheduler, connection_args, max(0.5, deadline - time.monotonic()))
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise _unavailable(scheduler, f"a dask {kind or 'peer'} answers there, not the scheduler",
                           hint="Give the scheduler's address (the one the workers were started with, "
                           "'dask worker tcp://HOST:PORT').")
    return identity


def _read_exactly(sock, n: int, deadline: float) -> bytes | None:
    """``n`` bytes from ``sock`` before ``deadline``, or None (silence or a closed peer)."""
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except socket.timeout:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _read_some(sock, n: int, deadline: float) -> bytes:
    """Up to ``n`` more bytes that arrive before ``deadline`` (to show what answered)."""
    data = b""
    while len(data) < n and (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _shown(data: bytes) -> str:
    return repr(data[:32].decode("latin-1"))


def _is_dask_handshake(body: bytes) -> bool:
    """Whether ``body`` (a frame after its length) is dask's handshake message."""
    try:
        from distributed.protocol import loads
        from distributed.protocol.utils import unpack_frames

        message = loads(unpack_frames(body), deserialize=False)
    except Exception:  # noqa: BLE001 - whatever it is, it is not dask's protocol
        return False
    return isinstance(message, dict) and "pickle-protocol" in message


def _identity(scheduler: str, connection_args: dict, timeout: float) -> dict:
    """The peer's ``identity`` (dask's own request), within ``timeout`` seconds."""
    from distributed.comm import connect

    async def ask():
        comm = await connect(scheduler, timeout=timeout, **connection_args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            await comm.close()

    answer: dict = {}

    def run():  # in its own thread: the caller may be running an event loop (a notebook)
        try:
            answer["value"] = asyncio.run(asyncio.wait_for(ask(), timeout))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            answer["error"] = exc

    thread = threading.Thread(target=run, name="ale-app-dask-identity", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    try:
        if "error" in answer:
            raise answer["error"]
        if "value" not in answer:
            raise TimeoutError
        return answer["value"]
    except (asyncio.TimeoutError, TimeoutError):
        raise _unavailable(scheduler, f"it did not answer dask's identity request within {timeout:g} s") from None
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise _unavailable(scheduler, f"it did not answer dask's identity request ({exc})") from None


def _start_workers_hint(scheduler: str) -> str:
    return (f"Start at least one worker for this scheduler ('dask worker {scheduler}', or dask-jobqueue's "
            "cluster.scale(N) on SLURM), or wait longer with --dask-wait SECONDS.")


def connect_dask(scheduler: str | None, wait: float = DEFAULT_WAIT):
    """A ``distributed.Client`` of the scheduler at ``scheduler`` with at least one worker:
    the address checked (exit 64), the peer checked to be a dask scheduler within
    :data:`ANSWER_TIMEOUT` (exit 69), and up to ``wait`` seconds for a worker (exit 69)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--parallel-backend dask needs dask.distributed, which is not installed.",
            hint="Install it with: pip install 'ale-app[dask]'.",
        ) from None
    if not scheduler:
        raise UsageError(
            "--parallel-backend dask needs --dask-scheduler ADDRESS.",
            hint=f"Start a scheduler ('dask scheduler', or dask-jobqueue on SLURM) and pass its address: {_forms()}.",
        )
    protocol, host, port = check_address(scheduler)
    address = scheduler.strip() if "://" in scheduler else f"tcp://{scheduler.strip()}"
    connection_args = _security(protocol, scheduler)
    identity = probe_scheduler(address, protocol, host, port, connection_args)
    LGR.debug("dask scheduler at %s: %s workers, %s threads", address, identity.get("n_workers"),
              identity.get("total_threads"))
    try:
        client = Client(address, timeout=f"{ANSWER_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise _unavailable(address, f"the connection failed: {exc}") from None
    try:
        _wait_for_workers(client, address, wait, lost=False)
    except BaseException:
        client.close()
        raise
    return client


def _n_workers(client, scheduler: str) -> int:
    """The scheduler's current number of workers (asked now, not from a cache)."""
    if client.status not in ("running", "connecting"):
        raise _unavailable(scheduler, "the connection to the scheduler was lost",
                           hint="Check that the scheduler is still running, then re-run.")
    try:
        return len(client.nthreads())
    except (OSError, TimeoutError) as exc:
        raise _unavailable(scheduler, f"the connection to the scheduler was lost ({type(exc).__name__})",
                           hint="Check that the scheduler is still running, then re-run.") from None


def _wait_for_workers(client, scheduler: str, wait: float, lost: bool) -> None:
    """Return once the scheduler has a worker; log progress while waiting, and give up after
    ``wait`` seconds (``lost``: every worker was lost during the run)."""
    start = time.monotonic()
    next_log = start
    while _n_workers(client, scheduler) == 0:
        now = time.monotonic()
        if now - start >= wait:
            what = ("every worker was lost during the run and none joined again" if lost
                    else "it has no workers, and none joined")
            raise _unavailable(scheduler, f"{what} within {wait:g} s (--dask-wait)", hint=_start_workers_hint(scheduler))
        if now >= next_log:
            LGR.info("Waiting for a dask worker to join the scheduler at %s (%.0f of %g s, --dask-wait)",
                     scheduler, now - start, wait)
            next_log = now + PROGRESS_EVERY
        time.sleep(0.25)
    if lost or time.monotonic() - start > 1:
        LGR.info("A dask worker joined the scheduler at %s", scheduler)


def map_on_dask(scheduler: str, wait: float, n_jobs: int, func: Callable, args: Iterable[tuple]) -> Iterator:
    """``func(*a)`` for each ``a`` of ``args`` on the workers of ``scheduler``, yielded in
    order; at most ``2 * max(n_jobs, the cluster's threads)`` items are out at once.

    An item whose workers die is rescheduled by dask; one dask gives up on (its
    ``KilledWorker``) or that is lost is submitted again, up to :data:`MAX_SUBMISSIONS`
    times. With no worker left, the run waits ``wait`` seconds for one (logging progress).
    """
    client = connect_dask(scheduler, wait)
    try:
        try:
            nthreads = client.nthreads()
        except (OSError, TimeoutError):
            nthreads = {}
        threads, workers_seen = sum(nthreads.values()), len(nthreads)
        window = 2 * max(n_jobs, threads, 1)
        pending: deque = deque()  # [args, future, submissions]
        items = iter(args)
        exhausted = False

        def submit(a):
            return client.submit(func, *a, pure=False, retries=TASK_RETRIES)

        while True:
            while not exhausted and len(pending) < window:
                a = next(items, None)
                if a is None:
                    exhausted = True
                    break
                pending.append([a, submit(a), 1])
            if not pending:
                return
            entry = pending[0]
            while True:
                _settle(entry[1], 1.0)
                status = entry[1].status
                if status == "finished":
                    break
                if status == "error" and not _worker_died(entry[1]):
                    entry[1].result()  # the item's own error, raised as it is
                if status in ("error", "cancelled", "lost"):
                    if entry[2] >= MAX_SUBMISSIONS:
                        raise _unavailable(scheduler, f"an item was lost with its workers {entry[2]} times "
                                           f"({_why(entry[1])})",
                                           hint="Workers die when they run out of memory or are stopped: give "
                                           "them more memory (dask worker --memory-limit), then re-run.")
                    _n_workers(client, scheduler)  # a lost scheduler ends the run here
                    LGR.warning("A dask worker was lost; running its work again (submission %d of %d)",
                                entry[2] + 1, MAX_SUBMISSIONS)
                    entry[1] = submit(entry[0])
                    entry[2] += 1
                    continue
                n_workers = _n_workers(client, scheduler)
                if n_workers < workers_seen:
                    LGR.warning("A dask worker left the scheduler at %s (%d remain); dask runs its unfinished "
                                "work again on the others", scheduler, n_workers)
                workers_seen = n_workers
                if n_workers == 0:
                    _wait_for_workers(client, scheduler, wait, lost=True)
                    workers_seen = _n_workers(client, scheduler)
            result = entry[1].result()
            pending.popleft()
            yield result
    finally:
        client.close()


def _settle(future, seconds: float) -> None:
    """Return when ``future`` is done, or after ``seconds``."""
    until = time.monotonic() + seconds
    while not future.done() and time.monotonic() < until:
        time.sleep(0.02)


def _worker_died(future) -> bool:
    """Whether a failed item failed because its workers died (not by its own error)."""
    from distributed.scheduler import KilledWorker

    try:
        exc = future.exception(timeout=1)
    except Exception:  # noqa: BLE001 - cancelled or lost: not the item's own error
        return True
    return isinstance(exc, KilledWorker)


def _why(future) -> str:
    try:
        exc = future.exception(timeout=1)
    except Exception as err:  # noqa: BLE001
        return type(err).__name__
    return f"{type(exc).__name__}: {exc}" if exc is not None else future.status
