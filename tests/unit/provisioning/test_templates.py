"""Provisioning templates evaluate as IoT Core's do; invalid ones are refused when loaded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.errors import ProvisioningRejected
from provisioning.service.templates import (
    DEFAULT_TEMPLATE_PATH,
    ProvisioningTemplate,
    TemplateError,
    load_template,
)

CERT = "c" * 64


def template(resources: dict[str, Any] | None = None, **sections: Any) -> ProvisioningTemplate:
    document = {
        "Parameters": {"SerialNumber": {"Type": "String"}, "Site": {"Type": "String", "Default": "s1"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": resources or {"thing": {"Type": "AWS::IoT::Thing",
                                             "Properties": {"ThingName": {"Ref": "SerialNumber"}}}},
        **sections,
    }
    return ProvisioningTemplate("t", json.dumps(document))


def thing_name(name_expression: Any, parameters: dict[str, str], **sections: Any) -> str:
    resources = {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": name_expression}}}
    return template(resources, **sections).evaluate(parameters, CERT).registration.thing_name


def test_shipped_template_names_the_thing_after_asset_type_and_serial() -> None:
    plan = load_template(DEFAULT_TEMPLATE_PATH).evaluate({"SerialNumber": "SN1", "Site": "p7"}, CERT)
    assert plan.registration.thing_name == "gateway-SN1"
    assert plan.registration.attributes == {"site": "p7", "assetType": "gateway", "serialNumber": "SN1"}
    assert plan.registration.groups == ("edgeferry-devices",)
    assert plan.registration.certificate_status == "ACTIVE"
    assert plan.registration.policies == ("edgeferry-device",)
    assert plan.registration.attributes_override == "MERGE"
    assert plan.device_configuration == {"site": "p7", "assetType": "gateway"}


def test_intrinsic_functions() -> None:
    assert thing_name({"Fn::Join": ["_", ["a", {"Ref": "Site"}]]}, {"SerialNumber": "x"}) == "a_s1"
    assert thing_name({"Fn::Select": [1, {"Fn::Split": ["-", {"Ref": "SerialNumber"}]}]},
                      {"SerialNumber": "ab-cd-ef"}) == "cd"
    assert thing_name({"Fn::Sub": "dev-${SerialNumber}"}, {"SerialNumber": "9"}) == "dev-9"
    mappings = {"Sites": {"s1": {"Prefix": "north"}}}
    assert thing_name({"Fn::Join": ["-", [{"Fn::FindInMap": ["Sites", {"Ref": "Site"}, "Prefix"]},
                                          {"Ref": "SerialNumber"}]]},
                      {"SerialNumber": "1"}, Mappings=mappings) == "north-1"


def test_certificate_id_parameter_is_the_registered_certificate() -> None:
    assert thing_name({"Fn::Join": ["", ["c-", {"Ref": "AWS::IoT::Certificate::Id"}]]},
                      {"SerialNumber": "1"}) == f"c-{CERT}"


@pytest.mark.parametrize(("expression", "parameters"), [
    ({"Ref": "SerialNumber"}, {}),
    ({"Ref": "Nope"}, {"SerialNumber": "1"}),
    ({"Fn::Select": [5, ["a"]]}, {"SerialNumber": "1"}),
    ({"Fn::FindInMap": ["M", "a", "b"]}, {"SerialNumber": "1"}),
    ({"Ref": "SerialNumber"}, {"SerialNumber": "bad/name"}),
])
def test_bad_parameters_are_400_invalid_parameters(expression: Any, parameters: dict[str, str]) -> None:
    with pytest.raises(ProvisioningRejected) as refused:
        thing_name(expression, parameters)
    assert (refused.value.status_code, refused.value.error_code) == (400, "InvalidParameters")


def test_certificate_status_and_override_fail() -> None:
    resources = {
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t1"},
                  "OverrideSettings": {"AttributePayload": "FAIL"}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Inactive"}},
    }
    plan = template(resources).evaluate({"SerialNumber": "1"}, CERT)
    assert plan.registration.certificate_status == "INACTIVE"
    assert plan.fail_if_thing_exists


@pytest.mark.parametrize("body", [
    "not json",
    "[]",
    json.dumps({"Resources": {}}),
    json.dumps({"Resources": {"x": {"Type": "AWS::IoT::Thing"}, "y": {"Type": "AWS::S3::Bucket"}}}),
    json.dumps({"Resources": {"x": {"Type": "AWS::IoT::Thing", "OverrideSettings": {"ThingGroups": "KEEP"}}}}),
    json.dumps({"Parameters": {"p": {"Type": "List"}}, "Resources": {"x": {"Type": "AWS::IoT::Thing"}}}),
    json.dumps({"Resources": {"x": {"Type": "AWS::IoT::Thing"}}, "Description": "x" * 10_300}),
    json.dumps({"Resources": {"x": {"Type": "AWS::IoT::Thing",
                                    "Properties": {"ThingName": {"Fn::If": ["c", "a", "b"]}}}}}),
    json.dumps({"Conditions": {"c": {}}, "Resources": {"x": {"Type": "AWS::IoT::Thing"}}}),
])
def test_invalid_templates_are_refused_at_load(body: str) -> None:
    with pytest.raises(TemplateError):
        ProvisioningTemplate("t", body)
