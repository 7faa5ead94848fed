"""``iotSiteWise``: asset property values from each message — the local asset store, or AWS IoT
SiteWise through BatchPutAssetPropertyValue.

The shape is AWS's (iotsitewise-rule-action.html, API_IotSiteWiseAction): a list of entries, each
naming a property by ``propertyAlias`` (or ``assetId`` and ``propertyId``) with up to 10 values of
value, timestamp and quality. Every field is a string that accepts substitution templates, and the
action turns each into its type when it runs (configure-rule-action.html: "the rule action expects
strings for all parameters"); a value that does not convert fails the action.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel, Embedded
from cloud.stores.assets import AssetModel, AssetStore, PropertyPoint
from cloud.stores.sql import SqlDatabase

QUALITIES = ("GOOD", "BAD", "UNCERTAIN")
INT32 = 2**31


class AssetPropertyVariant(CloudModel):
    """Exactly one of the four value kinds."""

    double_value: str | None = None
    integer_value: str | None = None
    boolean_value: str | None = None
    string_value: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AssetPropertyVariant:
        if len(self.model_dump(exclude_none=True)) != 1:
            raise ValueError("a value names exactly one of doubleValue, integerValue, booleanValue, stringValue")
        return self


class AssetPropertyTimestamp(CloudModel):
    time_in_seconds: str = Field(min_length=1)
    offset_in_nanos: str | None = None


class AssetPropertyValue(CloudModel):
    value: AssetPropertyVariant
    timestamp: AssetPropertyTimestamp
    quality: str | None = None


class PutAssetPropertyValueEntry(CloudModel):
    entry_id: str | None = None
    asset_id: str | None = None
    property_id: str | None = None
    property_alias: str | None = Field(default=None, min_length=1)
    property_values: list[AssetPropertyValue] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _names_a_property(self) -> PutAssetPropertyValueEntry:
        if self.property_alias is None and (self.asset_id is None or self.property_id is None):
            raise ValueError("an entry names its property by propertyAlias, or by assetId and propertyId")
        return self


class LocalAssetsBackend(CloudModel):
    """The local asset store: ``assets`` is the model, site → line → machine → sensor → property alias."""

    type: Literal["local"] = "local"
    assets: AssetModel = Field(default_factory=dict)


class SiteWiseBackend(AwsClientConfig):
    type: Literal["sitewise"]


AssetsBackend = Annotated[LocalAssetsBackend | SiteWiseBackend, Field(discriminator="type")]


class IotSiteWiseAction(CloudModel):
    """Like AWS's ``iotSiteWise`` action: ``putAssetPropertyValueEntries`` (1 to 10 entries)."""

    put_asset_property_value_entries: list[PutAssetPropertyValueEntry] = Field(min_length=1, max_length=10)
    backend: AssetsBackend = LocalAssetsBackend()

    @model_validator(mode="after")
    def _local_needs_aliases(self) -> IotSiteWiseAction:
        if isinstance(self.backend, LocalAssetsBackend) and any(
                e.property_alias is None for e in self.put_asset_property_value_entries):
            raise ValueError("the local asset store finds properties by propertyAlias; give one in every entry")
        return self

    def build(self, context: BuildContext) -> PutAssetPropertyValues:
        if isinstance(self.backend, SiteWiseBackend):
            return PutAssetPropertyValues(self, aws_client(context, "iotsitewise", self.backend))
        path = context.data_dir / "sitewise.sqlite"
        model = self.backend.assets
        store = context.shared(f"sitewise:{path}", lambda: Embedded(AssetStore(SqlDatabase(path=path), model)))
        return PutAssetPropertyValues(self, store.store)


class PutAssetPropertyValues:
    failed_action = "IotSiteWiseAction"
    resource = "iotsitewise"

    def __init__(self, config: IotSiteWiseAction, target: AssetStore | AwsClient) -> None:
        self.config = config
        self._target = target

    def entries(self, message: ActionMessage) -> list[dict[str, Any]]:
        """The BatchPutAssetPropertyValue entries of one firing, templates substituted and converted."""
        out = []
        for entry in self.config.put_asset_property_value_entries:
            names = {key: message.substitute(text) for key, text in (
                ("entryId", entry.entry_id), ("assetId", entry.asset_id), ("propertyId", entry.property_id),
                ("propertyAlias", entry.property_alias)) if text is not None}
            out.append({"entryId": uuid.uuid4().hex, **names,
                        "propertyValues": [_value(v, message) for v in entry.property_values]})
        return out

    async def __call__(self, message: ActionMessage) -> None:
        entries = self.entries(message)
        if isinstance(self._target, AssetStore):
            await self._target.put([_point(e["propertyAlias"], v) for e in entries for v in e["propertyValues"]])
            return
        response = await self._target.call("batch_put_asset_property_value", entries=entries)
        if response.get("errorEntries"):
            first = response["errorEntries"][0]
            [error, *_] = first["errors"]
            raise RuntimeError(f"{error['errorCode']}: entry {first['entryId']}: {error['errorMessage']}")


def _value(value: AssetPropertyValue, message: ActionMessage) -> dict[str, Any]:
    [(kind, template)] = value.value.model_dump(by_alias=True, exclude_none=True).items()
    text = message.substitute(template)
    quality = message.substitute(value.quality) if value.quality is not None else "GOOD"
    if quality not in QUALITIES:
        raise ValueError(f"quality {quality!r} is not one of {', '.join(QUALITIES)}")
    offset = value.timestamp.offset_in_nanos
    nanos = _integer("offsetInNanos", message.substitute(offset)) if offset is not None else 0
    if not 0 <= nanos <= 999_999_999:
        raise ValueError(f"offsetInNanos {nanos} is not within 0..999999999")
    return {"value": {kind: _convert(kind, text)},
            "timestamp": {"timeInSeconds": _integer("timeInSeconds", message.substitute(
                value.timestamp.time_in_seconds)), "offsetInNanos": nanos},
            "quality": quality}


def _convert(kind: str, text: str) -> Any:
    if kind == "stringValue":
        return text
    if kind == "booleanValue":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"booleanValue {text!r} is not true or false")
        return text.lower() == "true"
    if kind == "integerValue":
        number = _integer(kind, text)
        if not -INT32 <= number < INT32:
            raise ValueError(f"integerValue {number} is not a 32-bit integer")
        return number
    try:
        double = float(text)
    except ValueError:
        raise ValueError(f"doubleValue {text!r} is not a number") from None
    if not math.isfinite(double):
        raise ValueError(f"doubleValue {text!r} is not finite")
    return double


def _integer(field: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not an integer") from None


def _point(alias: str, value: dict[str, Any]) -> PropertyPoint:
    [(kind, converted)] = value["value"].items()
    text = str(converted).lower() if kind == "booleanValue" else str(converted)
    return PropertyPoint(alias, value["timestamp"]["timeInSeconds"], value["timestamp"]["offsetInNanos"],
                         value["quality"], kind.removesuffix("Value"), text)
