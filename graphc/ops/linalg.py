"""Matrix multiplication: 2-D, and batched over leading dimensions that broadcast."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..builder import apply, lift
from ..dtypes import result_type
from ..errors import ShapeError
from ..opdef import OpDef, register
from . import shape as sh
from .elementwise import broadcast_shapes


def _matmul_rule(a: Any, b: Any) -> tuple[tuple[int, ...], np.dtype]:
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError("matmul needs 2-D or batched operands")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(
            f"cannot multiply {a.shape} by {b.shape}: inner dimensions {a.shape[-1]} and {b.shape[-2]} differ"
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return batch + (a.shape[-2], b.shape[-1]), result_type(a.dtype, b.dtype)


def swap_last(x: Any) -> Any:
    """x with its last two axes exchanged."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return sh.transpose(x, axes)



MATMUL = register(
    OpDef(
        "matmul",
        "linalg",
        2,
        _matmul_rule,
        np.matmul,
        # Batch dimensions that broadcast are summed back by the differentiation pass.
        (lambda g, out, a, b: matmul(g, swap_last(b)), lambda g, out, a, b: matmul(swap_last(a), g)),
        (lambda t, out, a, b: matmul(t, b), lambda t, out, a, b: matmul(a, t)),
        doc="matrix product over the last two axes",
    )
)


def matmul(a: Any, b: Any) -> Any:
    """a @ b: 2-D, batched over broadcast leading axes; a 1-D operand is a row or column."""
    a, b = lift(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least one dimension, got {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        return sh.reshape(matmul(sh.reshape(a, (1, -1)), sh.reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        out = matmul(sh.reshape(a, (1, -1)), b)
        return sh.reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = matmul(a, sh.reshape(b, (-1, 1)))
        return sh.reshape(out, out.shape[:-1])
    return apply(MATMUL, (a, b))
