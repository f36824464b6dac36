"""The Numba back end's lowering of every op, one module per module of `graphc.ops`; importing
this package registers them all (`graphc.backends.numba.lowerings`)."""

from . import checkpointing, conv, elementwise, linalg, nn, random, reduction, shape

REGISTERED = (checkpointing, conv, elementwise, linalg, nn, random, reduction, shape)
