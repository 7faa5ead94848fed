"""``edgeferry cloud export``: write the stack's template and the Lambda package."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cloud.export.cloudformation import cloudformation_template
from cloud.export.functions import PACKAGE_NAME, build_package
from cloud.export.stack import stack_settings
from cloud.export_aws import ExportError
from cloud.rig.files import write_text
from cloud.rules.rulesfile import RulesFileError, load_rules, print_problems
from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, TemplateError, load_template

TEMPLATE_NAME = "template.json"


def register_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud export``."""
    parser = sub.add_parser(
        "export", help="write the AWS stack (CloudFormation) for a rules file and the provisioning settings",
        description="Write DIR/template.json (one CloudFormation stack: topic rules, Kinesis, Firehose to a "
                    "Parquet lake with its Glue table, Timestream, DynamoDB, SQS, the rows processors as "
                    f"Lambda functions, IAM roles, IoT policies and the provisioning template) and DIR/{PACKAGE_NAME}.")
    parser.add_argument("--format", choices=["cloudformation"], default="cloudformation")
    parser.add_argument("--rules", type=Path, required=True, help="the rules file (YAML)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--account", help="AWS account id (default: the rules file's aws.accountId)")
    parser.add_argument("--region", help="AWS region (default: aws.region)")
    parser.add_argument("--name", help="stack name, prefixing the names it makes (default: aws.stackName)")
    parser.add_argument("--provisioning-template", type=Path, default=DEFAULT_TEMPLATE_PATH,
                        help="fleet provisioning template JSON (default: the shipped one)")
    parser.add_argument("--ingest-rule", default="edgeferry_telemetry",
                        help="the basic-ingest rule devices publish through (device policy)")
    parser.add_argument("--no-package", action="store_true", help=f"do not build {PACKAGE_NAME}")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.rules)
        stack = stack_settings(rules, account=args.account, region=args.region, name=args.name)
        template = cloudformation_template(rules, stack, load_template(args.provisioning_template),
                                           ingest_rule=args.ingest_rule)
    except RulesFileError as exc:
        return print_problems(exc)
    except (ExportError, TemplateError) as exc:
        print(f"edgeferry: error: cannot export: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / TEMPLATE_NAME, json.dumps(template, indent=2) + "\n")
    print(args.out / TEMPLATE_NAME)
    if not args.no_package:
        print(build_package(args.out / PACKAGE_NAME))
    return 0
