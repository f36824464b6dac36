"""Where in the user's code a node was created: the first stack frame outside graphc.

Derivative rules run inside graphc, so the differentiation passes set an override: nodes built
while it is active carry the location (and the forward node) they differentiate.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

_GRAPHC_DIR = os.path.dirname(os.path.abspath(__file__))
# Installed, the passes live in graphc/passes; in a source checkout, beside graphc/.
_PACKAGE_DIRS = (_GRAPHC_DIR + os.sep, os.path.join(os.path.dirname(_GRAPHC_DIR), "passes") + os.sep)


@dataclass(frozen=True)
class Location:
    """A file and line of the user's code."""

    file: str
    line: int

    def __str__(self) -> str:  # one line, whatever the file is called
        name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in os.path.basename(self.file))
        return f"{name}:{self.line}"


UNKNOWN = Location("<unknown>", 0)
_REPLAY_FILE = os.path.join(_GRAPHC_DIR, "recipes.py")


class _Override(threading.local):
    location: Location | None = None
    grad_of: int | None = None
    replay: Location | None = None  # the recorded call being replayed (graphc.recipes)


_override = _Override()


# Where the `graphc` console script's stub is installed (bin/graphc): graphc's too, not the user's
# code (a user's own script called graphc elsewhere is the user's).
_STUBS = {os.path.join(d, "graphc") for d in (os.path.dirname(os.path.abspath(sys.executable)),
                                              sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user"))}


def _inside_graphc(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIRS) or filename.startswith("<frozen") or filename in _STUBS


def user_location() -> Location:
    """The caller's location: an active override, else the first frame outside graphc."""
    if _override.location is not None:
        return _override.location
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == _REPLAY_FILE and _override.replay is not None:
            return _override.replay  # made by the replayed call, not by user code it called back
        if not _inside_graphc(filename):
            return Location(filename, frame.f_lineno)
        frame = frame.f_back
    return UNKNOWN


def user_stacklevel() -> int:
    """The `stacklevel` that makes a warning its caller raises point at the first frame outside
    graphc (the user's line, not graphc's)."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and _inside_graphc(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


def current_grad_of() -> int | None:
    """The id of the forward node being differentiated, when inside a derivative rule."""
    return _override.grad_of


@contextlib.contextmanager
def derived_from(location: Location, grad_of: int | None) -> Iterator[None]:
    """Nodes created inside this block are attributed to `location` (and forward node `grad_of`)."""
    saved = (_override.location, _override.grad_of)
    _override.location, _override.grad_of = location, grad_of
    try:
        yield
    finally:
        _override.location, _override.grad_of = saved


@contextlib.contextmanager
def replaying_at(location: Location) -> Iterator[None]:
    """Nodes a replayed call (graphc.recipes) makes are attributed to `location`, where the user
    made the call; user code it calls back (a scan's body) keeps its own lines."""
    saved = _override.replay
    _override.replay = location
    try:
        yield
    finally:
        _override.replay = saved
