"""The `graphc` command line: `graphc demo`, `graphc inspect SCRIPT.py`, `graphc compare`.

Errors are one line on stderr and a non-zero exit status; every command has --help.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .cli.compare import QUICK, compare, find_bench
from .cli.demo import run
from .cli.inspect_script import inspect
from .cli.workloads import WORKLOADS
from .errors import GraphcError


class _Parser(argparse.ArgumentParser):
    """argparse, with usage mistakes reported in one line (and status 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"graphc: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphc", description="graphc, a define-and-run autodiff compiler.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    demo = commands.add_parser("demo", help="train an MLP, compare it with eager mode, write the report page",
                               description="Train an MLP on generated spirals, compare the compiled step with the "
                                           "eager baseline, and write the report page.")
    demo.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    demo.add_argument("--html", default="graphc-demo.html", metavar="PATH",
                      help="where to write the report page (default graphc-demo.html; '' for none)")
    inspect = commands.add_parser("inspect", help="print the graphs a script compiles",
                                  description="Run SCRIPT.py and print every function it compiles (or, if it "
                                              "compiles none, the tensors it defines at module level).")
    inspect.add_argument("script", metavar="SCRIPT.py")
    inspect.add_argument("--html", metavar="PATH", help="also write the report page (one per function)")
    inspect.add_argument("--dot", action="store_true", help="print Graphviz DOT instead of SSA text")
    compare = commands.add_parser("compare", help="time the benchmark workloads: compiled, eager and peers",
                                  description="Time the benchmark workloads through the compiled step, the "
                                              "unoptimized step, the eager baseline and every installed peer "
                                              "(PyTorch eager, torch.compile, JAX).")
    compare.add_argument("--workloads", nargs="+", default=None, metavar="W",
                         help="workloads to run (default: mlp_small mlp_mnist deep_narrow; 'all' for every one)")
    compare.add_argument("--peers", nargs="+", default=None, metavar="P", help="runners to time (default: all available)")
    compare.add_argument("--steps", type=int, default=20, help="timed steps per case (default 20)")
    compare.add_argument("--bench", metavar="DIR", help="a shared bench folder whose other peers to add (default: "
                                                        "GRAPHC_PEER_BENCH or ../shared/bench, where present)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command; errors are one line, status 1."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.steps < 1:
                raise GraphcError(f"demo: --steps must be at least 1, got {args.steps}")
            run(steps=args.steps, html=args.html or None)
        elif args.command == "inspect":
            inspect(args.script, html=args.html, dot=args.dot)
        else:
            workloads = QUICK if args.workloads is None else list(WORKLOADS) if args.workloads == ["all"] else args.workloads
            compare(workloads, args.peers, args.steps, find_bench(args.bench))
    except GraphcError as exc:
        print(f"graphc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
