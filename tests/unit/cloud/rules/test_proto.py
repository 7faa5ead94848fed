"""``decode(*, 'proto', bucket, key, protoFile, messageType)`` with a descriptor file (a
FileDescriptorSet, as ``protoc --descriptor_set_out --include_imports`` writes it)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F

from cloud.rules import compile_rule
from cloud.rules.protobuf import ProtoDescriptorFile, ProtoDescriptors
from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner

SQL = "SELECT VALUE decode(*, 'proto', 'schemas', 'reading.desc', '{file}', '{type}') FROM 'dt/+/proto'"


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """``reading.proto``: package edgeferry.test; message Reading {string device = 1; double value = 2;
    int64 t = 3; repeated string tags = 4; Where where = 5} with Where {string site = 1}."""
    file = descriptor_pb2.FileDescriptorProto(name="reading.proto", package="edgeferry.test", syntax="proto3")
    where = file.message_type.add(name="Where")
    where.field.add(name="site", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    reading = file.message_type.add(name="Reading")
    for name, number, kind, label in [("device", 1, F.TYPE_STRING, F.LABEL_OPTIONAL),
                                      ("value", 2, F.TYPE_DOUBLE, F.LABEL_OPTIONAL),
                                      ("t", 3, F.TYPE_INT64, F.LABEL_OPTIONAL),
                                      ("tags", 4, F.TYPE_STRING, F.LABEL_REPEATED)]:
        reading.field.add(name=name, number=number, type=kind, label=label)
    reading.field.add(name="where", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                      type_name=".edgeferry.test.Where")
    return descriptor_pb2.FileDescriptorSet(file=[file])


@pytest.fixture
def desc(tmp_path: Path) -> Path:
    path = tmp_path / "reading.desc"
    path.write_bytes(descriptor_set().SerializeToString())
    return path


def payload(**fields: Any) -> bytes:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_set().file[0])
    reading = message_factory.GetMessageClass(pool.FindMessageTypeByName("edgeferry.test.Reading"))
    return reading(**fields).SerializeToString()


def decoded(desc: Path, data: bytes, *, file: str = "reading", type: str = "Reading") -> Any:
    protos = ProtoDescriptors([ProtoDescriptorFile(bucket="schemas", key="reading.desc", path=desc)])
    rule = compile_rule(SQL.format(file=file, type=type), protos=protos)
    return rule.evaluate("dt/pump-1/proto", data)


def test_a_binary_payload_decodes_to_its_message_json(desc: Path) -> None:
    data = payload(device="pump-1", value=3.5, t=1_795_000_000_000, tags=["a", "b"], where={"site": "plant1"})
    assert decoded(desc, data) == {"device": "pump-1", "value": 3.5, "t": "1795000000000", "tags": ["a", "b"],
                                   "where": {"site": "plant1"}}
    assert decoded(desc, data, file="reading.proto", type="edgeferry.test.Reading")["device"] == "pump-1"


@pytest.mark.parametrize(("where", "reason"), [
    ({"file": "other"}, "does not describe other.proto"),
    ({"type": "Missing"}, "defines no message Missing"),
])
def test_an_unknown_file_or_type_is_undefined_with_its_reason(
        desc: Path, where: dict[str, str], reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert decoded(desc, payload(device="x"), **where) is None
    assert any(reason in str(getattr(r, "error", "")) for r in caplog.records)


def test_bytes_that_are_not_the_message_and_json_payloads_are_undefined(desc: Path) -> None:
    assert decoded(desc, b"\xff\xff\xff") is None
    assert decoded(desc, json.dumps({"device": "x"}).encode()) is None
    assert compile_rule(SQL.format(file="reading", type="Reading")).evaluate("dt/a/proto", payload()) is None, \
        "without descriptors the call is Undefined"


async def test_the_rules_file_maps_the_s3_descriptor_to_a_local_file(tmp_path: Path, desc: Path) -> None:
    doc = parse_rules({"dataDir": "data", "protoDescriptors": [
        {"bucket": "schemas", "key": "reading.desc", "path": desc.name}], "rules": [{
            "name": "proto", "sql": SQL.format(file="reading", type="Reading").replace("VALUE ", "VALUE {'r': ")
            .replace(") FROM", ")} FROM"), "actions": [{"s3": {"bucketName": "decoded", "key": "${topic(2)}"}}]}]},
        base=tmp_path)
    async with RulesRunner(doc) as runner:
        outcome = await runner.process("dt/pump-1/proto", payload(device="pump-1", value=1.25))
    assert outcome.failures == {}
    assert json.loads((tmp_path / "data" / "s3" / "decoded" / "pump-1").read_text()) == {
        "r": {"device": "pump-1", "value": 1.25}}
