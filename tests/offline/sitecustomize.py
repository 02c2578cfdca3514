"""Loaded by every Python subprocess the tests start (``PYTHONPATH`` points here): any
attempt to reach a non-loopback address raises, so an accidental download fails the test.
Subprocesses also run in a new, empty network namespace (``unshare -rn``, see
``tests/conftest.py``: where none can be made the test is skipped, and in CI it fails).
"""

import socket

_LOCAL = ("127.0.0.1", "::1", "localhost", "")


class NetworkBlocked(OSError):
    """Raised instead of opening an internet connection during the tests."""


def _check(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host not in _LOCAL and not str(host).startswith("/"):
        raise NetworkBlocked(f"ale-app tests: network access to {host!r} is blocked")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address[0])
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address[0])
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    _check(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
