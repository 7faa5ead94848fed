"""systemd's service notification protocol (``sd_notify``): readiness and watchdog keep-alives.

A unit with ``Type=notify`` and ``WatchdogSec=`` passes ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC``;
the service sends ``READY=1`` once it runs and ``WATCHDOG=1`` more often than every
``WATCHDOG_USEC``, or systemd restarts it. Outside systemd both are no-ops.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``READY=1``) to the service manager; False when there is none."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)
    return True


def watchdog_interval() -> float | None:
    """How often to send ``WATCHDOG=1`` (half the unit's ``WatchdogSec``), or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
