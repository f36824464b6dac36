"""The errors graphc raises. Every one derives from `GraphcError`.

Each message says what was expected and what was found; the error itself adds where: the line of
the user's code that led to it (the first stack frame outside graphc when it was raised).
"""

from __future__ import annotations

from .source import UNKNOWN, user_location


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose. `detail` is the message without the
    location; `location` is the user's file:line (None when raised outside any user code)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        where = user_location()
        self.location = None if where is UNKNOWN else where
        super().__init__(detail if self.location is None else f"{detail} (at {self.location})")


class ShapeError(GraphcError):
    """An op was given inputs whose shapes or dtypes it cannot combine."""


class DTypeError(GraphcError):
    """A dtype graphc does not support (or something that is not a dtype) was asked for."""


class FeedError(GraphcError):
    """A value fed to a compiled function (or assigned to a variable) does not fit."""


class NumericsError(GraphcError):
    """A NaN or infinity appeared while running with ``check_numerics=True``."""


class GraphError(GraphcError):
    """A graph is malformed or asked for something it cannot give (e.g. grad of a non-scalar)."""


class GraphcWarning(UserWarning):
    """Something graphc worked around (e.g. a compile cache it would not use)."""
