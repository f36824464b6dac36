"""The `graphc` command line: `graphc demo`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command; errors are one line, status 1."""
    parser = argparse.ArgumentParser(prog="graphc", description="A define-and-run autodiff compiler.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a small MLP and check it against eager mode")
    demo.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    args = parser.parse_args(argv)
    from .errors import GraphcError

    try:
        if args.command == "demo":
            from .demo import run

            run(steps=args.steps)
    except GraphcError as exc:
        print(f"graphc: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
