"""The edge runtime of edgeferry: sources, codec, aggregation, spool and publishing."""

from edge_agent.codec import decode_registers, encode_registers, scale_value

__all__ = ["decode_registers", "encode_registers", "scale_value"]
