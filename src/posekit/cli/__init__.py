"""`posekit` command line: a thin layer over the Python API.

Each sub-command lives in its own module with `register(subparsers)`, which adds its parser and
sets `func(args) -> int`. Errors a user can fix are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from posekit.core.errors import PosekitError

COMMANDS = ["data", "eval", "vis", "train", "predict", "models", "doctor"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posekit", description="Real-time multi-person 2D pose estimation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"posekit.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PosekitError as e:
        print(f"posekit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"posekit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
