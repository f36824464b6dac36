"""Constant folding: a node whose inputs are all literals is computed once, at compile time,
by its op's NumPy reference, and becomes a literal (a fill when all its elements are equal).

Folding never bloats the program: a result is folded only if it has at most FOLD_LIMIT
elements or no more than its largest input (so `broadcast_to(0.5, [4096, 1024])` stays a
broadcast of one number). Random draws, leaves, ops of the step count and loops (a tuple of values) are never folded.
"""

from __future__ import annotations

import numpy as np

from graphc.builder import CONSTANT, constant
from graphc.ir import Graph, Node
from graphc.ops import full

from .base import PassResult
from .rewrite import rewrite

FOLD_LIMIT = 256


def literal_value(x: Node) -> np.ndarray:
    """The array a literal node stands for."""
    return x.attrs["value"] if x.op is CONSTANT else np.full(x.shape, x.attrs["value"], x.dtype)


def foldable(n: Node) -> bool:
    """Whether `n` can and may be computed at compile time."""
    if n.op.leaf == "literal" or not n.inputs or n.op.numpy is None or n.op.needs_step or n.op.tuple_value:
        return False
    if not all(x.op.leaf == "literal" for x in n.inputs):
        return False
    return n.size <= max(FOLD_LIMIT, *(x.size for x in n.inputs))


def fold_constants(graph: Graph) -> PassResult:
    """`graph` with every foldable node replaced by its value; counts `nodes_folded`."""
    folded = 0

    def fold(n: Node) -> Node:
        nonlocal folded
        if not foldable(n):
            return n
        with np.errstate(all="ignore"):  # inf and nan fold like any value
            value = n.op.numpy(*(literal_value(x) for x in n.inputs), **n.attrs)
        folded += 1
        array = np.asarray(value, dtype=n.dtype).reshape(n.shape)
        if array.size and np.all(array == array.flat[0]) and n.ndim:  # one repeated value: a fill
            return full(n.shape, array.flat[0].item(), n.dtype)
        return constant(array, n.dtype)

    return PassResult(rewrite(graph, fold), {"nodes_folded": folded})
