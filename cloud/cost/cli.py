"""``edgeferry cloud cost``: a fleet's monthly AWS bill, batched against raw publishing."""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import TypeAdapter, ValidationError

from cloud.cost.model import HOURS_PER_MONTH, Estimate, Fleet, PriceList, estimate
from cloud.rules.actions.base import Duration

_DURATION: TypeAdapter[float] = TypeAdapter(Duration)


def register_cost(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud cost``."""
    parser = sub.add_parser(
        "cost", help="a fleet's monthly AWS cost from published prices, batched against raw",
        description="Estimate the month's AWS bill of a fleet (IoT Core, Kinesis, Lambda, Firehose, Timestream, "
                    "DynamoDB, S3) from the dated price list in cloud/cost/prices.yaml, once with the given "
                    "bundle and once publishing every report as its own message.")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--report-every", required=True, metavar="DURATION", help="e.g. 30s")
    parser.add_argument("--bundle", required=True, metavar="DURATION", help="one message per bundle, e.g. 5m")
    parser.add_argument("--points", type=int, default=13, help="points per report (default 13, the reefer's)")
    parser.add_argument("--form", choices=["full", "compact"], default="full",
                        help="envelope form of the batched messages (batching.form)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    try:
        every, bundle = _DURATION.validate_python(args.report_every), _DURATION.validate_python(args.bundle)
    except ValidationError as exc:
        print(f"edgeferry: error: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    if args.devices < 1 or args.points < 1 or every <= 0:
        print("edgeferry: error: --devices, --points and --report-every must be positive", file=sys.stderr)
        return 2
    prices = PriceList.load()
    batched = estimate(Fleet(args.devices, every, bundle, args.points, args.form == "compact"), prices)
    raw = estimate(Fleet(args.devices, every, 0, args.points), prices)
    if args.json:
        print(json.dumps({"prices": prices.date, "region": prices.region,
                          "batched": _summary(batched), "raw": _summary(raw)}, indent=2))
    else:
        print(render(batched, raw, prices))
    return 0


def _summary(e: Estimate) -> dict[str, object]:
    per_day = e.fleet.messages_per_month / (HOURS_PER_MONTH / 24)
    return {"messages_per_day": round(per_day), "message_bytes": e.message_bytes,
            "units_per_message": e.units_per_message, "units_per_day": round(per_day * e.units_per_message),
            "monthly_usd": round(e.total, 2),
            "lines": [{"service": line.service, "item": line.item, "quantity": line.quantity,
                       "monthly_usd": round(line.monthly, 2), "price": line.price.key} for line in e.lines]}


def render(batched: Estimate, raw: Estimate, prices: PriceList) -> str:
    """The two estimates side by side, each price cited below."""
    days = HOURS_PER_MONTH / 24
    out = [f"AWS list prices {prices.region} as of {prices.date}; a month is {HOURS_PER_MONTH} h",
           "",
           f"{'':40} {'batched':>16} {'raw':>16}",
           f"{'messages per day':40} {batched.fleet.messages_per_month / days:>16,.0f} "
           f"{raw.fleet.messages_per_month / days:>16,.0f}",
           f"{'bytes per message (payload + topic)':40} {batched.message_bytes:>16,} {raw.message_bytes:>16,}",
           f"{'5 KB metering units per day':40} {batched.fleet.messages_per_month / days * batched.units_per_message:>16,.0f} "
           f"{raw.fleet.messages_per_month / days * raw.units_per_message:>16,.0f}",
           "",
           f"{'service':11}{'item':56}{'batched $/mo':>14}{'raw $/mo':>12}  ref"]
    keys = list(dict.fromkeys(line.price.key for line in batched.lines))
    for b, r in zip(batched.lines, raw.lines, strict=True):
        out.append(f"{b.service:11}{b.item[:55]:56}{b.monthly:>14,.2f}{r.monthly:>12,.2f}  [{keys.index(b.price.key) + 1}]")
    out += [f"{'':11}{'total':56}{batched.total:>14,.2f}{raw.total:>12,.2f}", ""]
    out += [f"[{i}] {prices.prices[k].price:g} USD per {prices.prices[k].per:,.0f} {prices.prices[k].unit}: "
            f"{prices.prices[k].source} ({prices.prices[k].checked})" for i, k in enumerate(keys, 1)]
    return "\n".join(out)
