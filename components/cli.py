"""``edgeferry component build|validate``."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from components.platforms import PLATFORMS, PYTHONS
from edge_agent.errors import EdgeferryError


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="component_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build the wheelhouse archives and render the recipe into greengrass-build/")
    build.add_argument("--version", help="component and wheel version, MAJOR.MINOR.PATCH (default: the package's)")
    build.add_argument("--s3-bucket", help="write s3://BUCKET/... artifact URIs for a cloud deployment")
    build.add_argument("--out", type=Path, default=Path("greengrass-build"))
    build.add_argument("--name", default="com.edgeferry.FieldbusGateway")
    build.add_argument("--rule", default="edgeferry_telemetry", help="basic-ingest rule name")
    build.add_argument("--platform", action="append", choices=sorted(PLATFORMS), dest="platforms",
                       help="a target platform (repeat; default: all)")
    build.add_argument("--python", action="append", dest="pythons", metavar="X.Y",
                       help=f"a CPython version the wheelhouse serves (repeat; default: {' '.join(PYTHONS)})")
    build.add_argument("--wheel", type=Path, help="a built edgeferry wheel (needed outside a source checkout)")
    build.set_defaults(func=_build)
    validate = sub.add_parser("validate", help="check a recipe file against the recipe rules")
    validate.add_argument("recipe", type=Path)
    validate.set_defaults(func=_validate)


def _build(args: argparse.Namespace) -> int:
    from components.build import build_component

    result = build_component(out=args.out, version=args.version, s3_bucket=args.s3_bucket, name=args.name,
                             rule=args.rule, platforms=[PLATFORMS[p] for p in args.platforms or PLATFORMS],
                             pythons=tuple(args.pythons or PYTHONS), wheel=args.wheel)
    print(f"recipe:   {result.recipe}")
    for platform, archive in result.artifacts.items():
        print(f"artifact: {archive} ({platform})")
    for reason in result.skipped.values():
        print(f"left out: {reason}")
    print(f"deploy locally: {result.local_deployment(args.name)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from components.recipe import recipe_problems

    try:
        recipe = yaml.safe_load(args.recipe.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EdgeferryError(f"{args.recipe}: cannot read recipe: {exc}") from None
    problems = recipe_problems(recipe if isinstance(recipe, dict) else {})
    for problem in problems:
        print(f"{args.recipe}: {problem}")
    if problems:
        return 1
    print(f"{args.recipe}: OK")
    return 0
