"""`graphc inspect SCRIPT.py`: run a user's script, and print what graphc compiled in it.

Every function the script compiles is captured; if it compiles none, the tensors it leaves in
its module namespace are compiled (with the placeholders they need as inputs, through the NumPy
reference: nothing native is built just to be looked at). Each is printed as SSA text with its
pass report, or as DOT (`--dot`), or written as a report page (`--html PATH`).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from ..errors import GraphcError
from ..function import Function, SpecializingFunction, captured, compile
from ..ir import Node, placeholders_among


def _script_error(path: str, exc: BaseException) -> GraphcError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) == os.path.abspath(path)]
    where = f" (at {os.path.basename(path)}:{frames[-1].lineno})" if frames else ""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a script's exception whose __str__ itself fails
        text = "(its message cannot be printed)"
    first = text.splitlines()[0] if text else ""
    return GraphcError(f"inspect: {path} raised {type(exc).__name__}: {first}{where}")


def functions_of(path: str, quiet: bool = False) -> list[Function]:
    """The functions `path` compiles when run, or its module-level tensors compiled; with
    `quiet`, what the script prints goes to stderr (so that stdout holds only DOT, say)."""
    if not os.path.isfile(path):
        raise GraphcError(f"inspect: no such script {path!r}")
    argv = sys.argv
    sys.argv = [path]
    try:
        with captured() as found, contextlib.redirect_stdout(sys.stderr if quiet else sys.stdout):
            namespace = runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise GraphcError(f"inspect: {path} exited with status {exc.code}") from None
        namespace = {}
    except GraphcError as exc:
        raise GraphcError(f"inspect: {path}: {exc}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of the user's script is one clear line
        raise _script_error(path, exc) from None
    finally:
        sys.argv = argv
    never_called = [f for f in found if isinstance(f, SpecializingFunction) and not f._programs]
    if never_called:
        raise GraphcError(f"inspect: {path} compiles a function whose inputs have sizes given at call time"
                          f" ({never_called[0]._signature()}) but never calls it, so no program exists to show;"
                          " call it once in the script, or build one with f.program(shape, ...)")
    found = [f for f in found if isinstance(f, Function)]
    if found:
        return found
    tensors = [v for k, v in namespace.items() if isinstance(v, Node) and v.inputs and not k.startswith("_")]
    if not tensors:
        raise GraphcError(f"inspect: {path} compiles no function and leaves no graph tensor at module level"
                          " (eager tensors have no graph to show)")
    return [compile(list(placeholders_among([t])), t, backend="numpy") for t in tensors]


def inspect(path: str, html: str | None = None, dot: bool = False, out: Callable[[str], None] = print) -> list[Function]:
    """Print (or write) every function of `path`; return them."""
    functions = functions_of(path, quiet=dot)
    for k, f in enumerate(functions):
        if dot:
            out(f.to_dot())
        else:
            out(f"# function {k + 1} of {len(functions)}: {f!r}")
            out(str(f))
            out("\n".join(line for line in f.report().splitlines() if not line.startswith("  source: ")))
            out("")
        if html:
            target = Path(html)
            if len(functions) > 1:
                target = target.with_name(f"{target.stem}-{k + 1}{target.suffix}")
            f.save_html(target)
            out(f"report page: {target}")
    return functions
