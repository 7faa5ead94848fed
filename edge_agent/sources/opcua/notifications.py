"""The subscription handler: asyncua data-change notifications -> one scan per publish response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from asyncua import ua
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif

from edge_agent.envelope import Reading
from edge_agent.metrics import Counters
from edge_agent.sources.opcua.status import status_name
from edge_agent.sources.opcua.targets import NodeTarget
from edge_agent.sources.opcua.values import reading_from

logger = logging.getLogger(__name__)


class NotificationBatcher:
    """Implements asyncua's ``DataChangeNotificationHandler`` and ``StatusChangeNotificationHandler``
    protocols. asyncua calls ``datachange_notification`` once per monitored item, each in its own
    task, all scheduled together for one publish response; the readings are collected and handed
    on as one scan by a callback that runs after those tasks."""

    def __init__(self, device: str, targets: Mapping[ua.NodeId, Sequence[NodeTarget]],
                 deliver: Callable[[list[Reading]], None], counters: Counters) -> None:
        self._device = device
        self._targets = targets
        self._deliver = deliver
        self._counters = counters
        self._pending: list[Reading] = []
        self._flush_scheduled = False

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._counters.inc("notifications")
        dv = data.monitored_item.Value
        for target in self._targets.get(node.nodeid, ()):
            self._pending.append(reading_from(self._device, target, dv))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        """The server reports the subscription's own state (e.g. BadTimeout when it expired)."""
        logger.warning("opcua_subscription_status", extra={
            "device": self._device, "status": status_name(status.Status.value)})

    def _flush(self) -> None:
        self._flush_scheduled = False
        scan, self._pending = self._pending, []
        self._deliver(scan)
