"""Provisioning templates in AWS's JSON format, evaluated as IoT Core does for RegisterThing.

Supported (provision-template.md): ``Parameters`` (``Type`` String or Number, ``Default``),
``Mappings``, ``Resources`` of type ``AWS::IoT::Thing`` (ThingName, AttributePayload,
ThingTypeName, ThingGroups, with ``OverrideSettings``), ``AWS::IoT::Certificate`` (CertificateId,
Status) and ``AWS::IoT::Policy`` (PolicyName), ``DeviceConfiguration``, and the intrinsic functions
``Ref``, ``Fn::Join``, ``Fn::FindInMap``, ``Fn::Split``, ``Fn::Select`` and ``Fn::Sub``.
A template is at most 10 KiB. Anything else is refused with a clear message when the template is
loaded, not when a device registers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from provisioning.errors import ProvisioningRejected
from provisioning.service.registry import CertificateStatus, Override, Registration

MAX_TEMPLATE_BYTES = 10 * 1024
CERTIFICATE_ID_PARAMETER = "AWS::IoT::Certificate::Id"
RESOURCE_TYPES = ("AWS::IoT::Thing", "AWS::IoT::Certificate", "AWS::IoT::Policy")
OVERRIDES = ("DO_NOTHING", "REPLACE", "FAIL", "MERGE")
_SUB = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template itself is invalid (found when it is loaded)."""


def invalid_parameters(message: str) -> ProvisioningRejected:
    return ProvisioningRejected(400, "InvalidParameters", message)


@dataclass(frozen=True, slots=True)
class Provisioning:
    """What a template decided for one RegisterThing request."""

    registration: Registration
    device_configuration: dict[str, str]
    fail_if_thing_exists: bool


class ProvisioningTemplate:
    """One named template; :meth:`evaluate` turns device parameters into a registration."""

    def __init__(self, name: str, body: str) -> None:
        if len(body.encode()) > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"template {name}: {len(body.encode())} bytes, the limit is 10 KiB")
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise TemplateError(f"template {name}: not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise TemplateError(f"template {name}: must be a JSON object")
        self.name = name
        self.body = body
        self.document: dict[str, Any] = document
        self.parameters: dict[str, dict[str, Any]] = _section(document, "Parameters", name)
        self.mappings: dict[str, Any] = _section(document, "Mappings", name)
        self.resources: dict[str, dict[str, Any]] = _section(document, "Resources", name)
        self._check()

    def _check(self) -> None:
        unsupported = sorted(set(_function_names(self.document)) - set(_FUNCTIONS))
        if unsupported or "Conditions" in self.document:
            raise TemplateError(f"template {self.name}: not supported here: "
                                + ", ".join(unsupported or ["Conditions"]))
        for key, spec in self.parameters.items():
            if not isinstance(spec, dict) or spec.get("Type", "String") not in ("String", "Number"):
                raise TemplateError(f"template {self.name}: parameter {key}: Type must be String or Number")
        things = [r for r in self.resources.values() if r.get("Type") == "AWS::IoT::Thing"]
        if len(things) != 1:
            raise TemplateError(f"template {self.name}: needs exactly one AWS::IoT::Thing resource")
        for logical_id, resource in self.resources.items():
            if not isinstance(resource, dict) or resource.get("Type") not in RESOURCE_TYPES:
                raise TemplateError(f"template {self.name}: resource {logical_id}: Type must be one of "
                                    + ", ".join(RESOURCE_TYPES))
            for key, value in resource.get("OverrideSettings", {}).items():
                if value not in OVERRIDES:
                    raise TemplateError(f"template {self.name}: {logical_id}.OverrideSettings.{key}: "
                                        f"{value!r} is not one of {', '.join(OVERRIDES)}")

    def evaluate(self, parameters: Mapping[str, object], certificate_id: str) -> Provisioning:
        """Resolve the template for a device; :class:`ProvisioningRejected` (400) for bad parameters."""
        values = self._parameter_values(parameters, certificate_id)
        resolve = _Resolver(values, self.mappings)
        thing: dict[str, Any] = {}
        overrides: dict[str, str] = {}
        status: CertificateStatus = "ACTIVE"
        policies: list[str] = []
        for logical_id, resource in self.resources.items():
            properties = resolve(resource.get("Properties", {}))
            if resource["Type"] == "AWS::IoT::Thing":
                thing, overrides = properties, resource.get("OverrideSettings", {})
            elif resource["Type"] == "AWS::IoT::Certificate":
                status = _certificate_status(properties, certificate_id)
            else:
                policies.append(str(properties.get("PolicyName", logical_id)))
        name = thing.get("ThingName")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_:-]{1,128}", name):
            raise invalid_parameters(f"ThingName {name!r} is not a valid thing name")
        attributes = thing.get("AttributePayload", {})
        groups = thing.get("ThingGroups", [])
        if not isinstance(attributes, dict) or not isinstance(groups, list):
            raise invalid_parameters("AttributePayload must be an object and ThingGroups a list")
        registration = Registration(
            thing_name=name,
            attributes={str(k): str(v) for k, v in attributes.items()},
            thing_type=thing.get("ThingTypeName"),
            groups=tuple(str(g) for g in groups),
            certificate_status=status,
            policies=tuple(policies),
            attributes_override=_override(overrides, "AttributePayload"),
            groups_override=_override(overrides, "ThingGroups"),
            type_override=_override(overrides, "ThingTypeName"),
        )
        configuration = resolve(self.document.get("DeviceConfiguration", {}))
        return Provisioning(registration, {str(k): str(v) for k, v in configuration.items()},
                            fail_if_thing_exists="FAIL" in overrides.values())

    def _parameter_values(self, given: Mapping[str, object], certificate_id: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for key, spec in self.parameters.items():
            if key == CERTIFICATE_ID_PARAMETER:
                values[key] = certificate_id
            elif key in given:
                values[key] = str(given[key])
            elif "Default" in spec:
                values[key] = str(spec["Default"])
            else:
                raise invalid_parameters(f"parameter {key} is required by template {self.name}")
            if spec.get("Type") == "Number" and not _is_number(values[key]):
                raise invalid_parameters(f"parameter {key} must be a number")
        return values


class _Resolver:
    """Evaluates intrinsic functions over a JSON value."""

    def __init__(self, parameters: dict[str, str], mappings: dict[str, Any]) -> None:
        self._parameters = parameters
        self._mappings = mappings

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        return {k: self(v) for k, v in value.items()}

    def ref(self, name: object) -> str:
        if not isinstance(name, str) or name not in self._parameters:
            raise invalid_parameters(f"Ref to unknown parameter {name!r}")
        return self._parameters[name]

    def join(self, argument: object) -> str:
        delimiter, items = _pair(argument, "Fn::Join")
        resolved = self(items)
        if not isinstance(delimiter, str) or not isinstance(resolved, list):
            raise invalid_parameters("Fn::Join takes [delimiter, [values]]")
        return delimiter.join(str(v) for v in resolved)

    def find_in_map(self, argument: object) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise invalid_parameters("Fn::FindInMap takes [map, top-level key, second-level key]")
        map_name, top, second = (self(a) for a in argument)
        try:
            return self._mappings[map_name][top][second]
        except (KeyError, TypeError):
            raise invalid_parameters(f"Fn::FindInMap: no value for {map_name}/{top}/{second}") from None

    def split(self, argument: object) -> list[str]:
        delimiter, source = _pair(argument, "Fn::Split")
        text = self(source)
        if not isinstance(delimiter, str) or not delimiter or not isinstance(text, str):
            raise invalid_parameters("Fn::Split takes [delimiter, string]")
        return text.split(delimiter)

    def select(self, argument: object) -> Any:
        index, items = _pair(argument, "Fn::Select")
        resolved, position = self(items), self(index)
        if not isinstance(resolved, list) or not str(position).isdigit() or int(position) >= len(resolved):
            raise invalid_parameters(f"Fn::Select: index {position!r} is out of range")
        return resolved[int(position)]

    def sub(self, argument: object) -> str:
        if not isinstance(argument, str):
            raise invalid_parameters("Fn::Sub takes a string")
        return _SUB.sub(lambda m: self.ref(m.group(1)), argument)


_FUNCTIONS = {
    "Ref": _Resolver.ref,
    "Fn::Join": _Resolver.join,
    "Fn::FindInMap": _Resolver.find_in_map,
    "Fn::Split": _Resolver.split,
    "Fn::Select": _Resolver.select,
    "Fn::Sub": _Resolver.sub,
}


def _function_names(value: Any) -> Iterator[str]:
    """Every ``Ref`` / ``Fn::...`` key used anywhere in a JSON value."""
    if isinstance(value, list):
        for item in value:
            yield from _function_names(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" or key.startswith("Fn::"):
                yield key
            yield from _function_names(item)


def _section(document: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    section = document.get(key, {})
    if not isinstance(section, dict):
        raise TemplateError(f"template {name}: {key} must be an object")
    return section


def _pair(argument: object, function: str) -> tuple[Any, Any]:
    if not isinstance(argument, list) or len(argument) != 2:
        raise invalid_parameters(f"{function} takes a list of two")
    return argument[0], argument[1]


def _certificate_status(properties: dict[str, Any], certificate_id: str) -> CertificateStatus:
    if properties.get("CertificateId", certificate_id) != certificate_id:
        raise invalid_parameters("AWS::IoT::Certificate.CertificateId must be the registered certificate")
    status = str(properties.get("Status", "ACTIVE")).upper()
    if status not in ("ACTIVE", "INACTIVE"):
        raise invalid_parameters(f"certificate Status {status!r} must be ACTIVE or INACTIVE")
    return cast(CertificateStatus, status)


def _override(overrides: dict[str, str], key: str) -> Override:
    value = overrides.get(key, "DO_NOTHING")
    return "DO_NOTHING" if value == "FAIL" else cast(Override, value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


DEFAULT_TEMPLATE_NAME = "edgeferry-device"
DEFAULT_TEMPLATE_PATH = Path(__file__).resolve().parent.parent / f"{DEFAULT_TEMPLATE_NAME}.json"
"""The template edgeferry ships: thing ``<AssetType>-<SerialNumber>``, certificate ACTIVE."""


def load_template(path: Path, name: str | None = None) -> ProvisioningTemplate:
    """A template from a JSON file, named after the file unless ``name`` is given."""
    try:
        body = path.read_text()
    except OSError as exc:
        raise TemplateError(f"template {path}: {exc.strerror}") from None
    return ProvisioningTemplate(name or path.stem.removesuffix(".template"), body)
