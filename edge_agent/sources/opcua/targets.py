"""Which node each point reads: points expanded to targets, browse paths resolved to node ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.status_codes import StatusCodes

from edge_agent.sources.opcua.config import OpcUaPoint

Sampling = Literal["subscribe", "poll"]


@dataclass(frozen=True, slots=True)
class NodeTarget:
    """One point after array expansion: its name, where it lives and how it is sampled."""

    point: str
    node: str | None
    browse_path: str | None
    sampling: Sampling
    scale: float = 1.0
    offset: float = 0.0

    @property
    def address(self) -> str:
        """What a log line should show: the node id or the browse path."""
        return self.node if self.node is not None else f"Objects/{self.browse_path}"


@dataclass(frozen=True, slots=True)
class Binding:
    """A target bound to a node on one connection; ``node_id`` is None when it did not resolve,
    and ``status`` then says why (a Bad StatusCode)."""

    target: NodeTarget
    node_id: ua.NodeId | None
    status: int = 0


def expand_points(points: Sequence[OpcUaPoint]) -> list[NodeTarget]:
    """One target per point; an array point (``count`` > 1) gives one per index, ``{i}`` filled in
    its name and its node id or browse path."""
    return [NodeTarget(point=name, node=_fill(p.node, p.count, i),
                       browse_path=_fill(p.browse_path, p.count, i),
                       sampling=p.sampling, scale=p.scale, offset=p.offset)
            for p in points for i, name in zip(p.indices(), p.expanded_names(), strict=True)]


def _fill(address: str | None, count: int, i: int) -> str | None:
    return address if address is None or count == 1 else address.format(i=i)


async def bind(client: Client, targets: Sequence[NodeTarget]) -> list[Binding]:
    """Node ids parsed as they are; browse paths resolved in one TranslateBrowsePathsToNodeIds call
    from the Objects folder. A path that does not resolve gets its Bad status, not an exception."""
    bindings: list[Binding | None] = [None] * len(targets)
    by_path: list[int] = []
    for index, target in enumerate(targets):
        if target.node is not None:
            bindings[index] = Binding(target, ua.NodeId.from_string(target.node))
        else:
            by_path.append(index)
    if by_path:
        paths = [_relative_path(targets[i].browse_path) for i in by_path]
        results = await client.translate_browsepaths(client.nodes.objects.nodeid, paths)
        for index, result in zip(by_path, results, strict=True):
            code = result.StatusCode.value
            if result.StatusCode.is_good() and result.Targets:
                found = result.Targets[0].TargetId
                node_id = ua.NodeId(found.Identifier, found.NamespaceIndex, found.NodeIdType)
                bindings[index] = Binding(targets[index], node_id)
            else:
                bindings[index] = Binding(targets[index], None, code or StatusCodes.BadNoMatch)
    return [b for b in bindings if b is not None]


def _relative_path(path: str | None) -> ua.RelativePath:
    text = path or ""
    return ua.RelativePath.from_string(text if text.startswith("/") else f"/{text}")
