"""The errors graphc raises. Every one derives from `GraphcError`.

Each message says what was expected, what was found, and where in the user's code.
"""


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose."""


class ShapeError(GraphcError):
    """An op was given inputs whose shapes or dtypes it cannot combine."""


class FeedError(GraphcError):
    """A value fed to a compiled function (or assigned to a variable) does not fit."""


class NumericsError(GraphcError):
    """A NaN or infinity appeared while running with ``check_numerics=True``."""


class GraphError(GraphcError):
    """A graph is malformed or asked for something it cannot give (e.g. grad of a non-scalar)."""
