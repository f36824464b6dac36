"""Numba lowerings of the random ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ops import random
from ..emit import Buf, Emitter
from ..lowerings import register_kernel


def _draw_kernel(helper: str) -> Any:
    def kernel(
        em: Emitter, out: Buf, shape: tuple[int, ...], dtype: np.dtype, seed: int, stream: int
    ) -> None:
        em.line(f"{helper}({out.array()}, {seed}, {stream}, step)")

    return kernel


register_kernel(random.RANDOM_NORMAL, _draw_kernel("philox_normal"))
register_kernel(random.RANDOM_UNIFORM, _draw_kernel("philox_uniform"))
