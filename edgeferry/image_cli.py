"""``edgeferry image build``: the archive that installs the standalone agent offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.platforms import PLATFORMS, PYTHONS


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="write one archive: wheelhouse, installer, agent config, systemd unit")
    build.add_argument("--platform", required=True, choices=sorted(PLATFORMS), help="target platform")
    build.add_argument("--config", type=Path, required=True, help="the device's agent config")
    build.add_argument("--version", help="MAJOR.MINOR.PATCH (default: the package's)")
    build.add_argument("--python", action="append", dest="pythons", metavar="X.Y",
                       help=f"a CPython version the wheelhouse serves (repeat; default: {' '.join(PYTHONS)})")
    build.add_argument("--wheel", type=Path, help="a built edgeferry wheel (needed outside a source checkout)")
    build.add_argument("--out", type=Path, default=Path("dist"))
    build.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from edgeferry.image import build_image

    result = build_image(config_path=args.config, platform=PLATFORMS[args.platform], out=args.out,
                         version=args.version, pythons=tuple(args.pythons or PYTHONS), wheel=args.wheel)
    print(f"image: {result.archive} (edgeferry {result.version}, {result.wheels} wheels)")
    print(f"install on the device: tar xzf {result.archive.name} && sudo edgeferry-image/install.sh")
    return 0
