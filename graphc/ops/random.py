"""Random ops, drawn from a counter-based generator (Philox) rather than a stateful one.

What a random node draws on the k-th call of a compiled function is a function of its seed,
its stream number and k alone, so every executor, and any recomputation, draws the same values.
Streams number the random nodes made since the last `set_seed`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import philox, recipes
from ..builder import check_shape
from ..dtypes import as_dtype, is_int
from ..errors import ShapeError
from ..ir import Node
from ..opdef import OpDef, register
from ..source import current_grad_of, user_location


class _SeedState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seed = 0
        self.streams = itertools.count()


_state = _SeedState()
os.register_at_fork(after_in_child=_state.lock._at_fork_reinit)  # type: ignore[attr-defined]


def _check_seed(seed: Any) -> int:
    """A seed: an int in [0, 2**64) (Philox's key)."""
    if not is_int(seed) or not 0 <= seed < 2**64:
        raise ShapeError(f"a seed must be an int in [0, 2**64), got {seed!r}")
    return int(seed)


def set_seed(seed: int) -> None:
    """Seed the random nodes created from now on that are given no seed; restart stream numbers."""
    with _state.lock:
        _state.seed = _check_seed(seed)
        _state.streams = itertools.count()


def stream_position() -> tuple[int, int]:
    """(the seed in force, the stream number the next random node will take)."""
    with _state.lock:
        n = next(_state.streams)
        _state.streams = itertools.count(n)
        return _state.seed, n


@contextlib.contextmanager
def replaying_streams(position: tuple[int, int]) -> Iterator[None]:
    """Random nodes made inside take the seed and stream numbers they took from `position`
    before: a recomputation (gc.checkpoint) draws what the first computation drew."""
    with _state.lock:
        saved = (_state.seed, _state.streams)
        _state.seed, _state.streams = position[0], itertools.count(position[1])
    try:
        yield
    finally:
        with _state.lock:
            _state.seed, _state.streams = saved


def advance_streams(position: tuple[int, int]) -> None:
    """Random nodes made from now on take stream numbers from `position` on (the seed kept)."""
    with _state.lock:
        _state.streams = itertools.count(position[1])


recipes.use_streams(stream_position, replaying_streams, advance_streams)


def _random_rule(
    shape: tuple[int, ...], dtype: np.dtype, seed: int, stream: int
) -> tuple[tuple[int, ...], np.dtype]:
    if dtype.kind != "f":
        raise ShapeError(f"random draws are float32 or float64, not {dtype.name}")
    return shape, dtype



RANDOM_NORMAL = register(
    OpDef(
        "random_normal",
        "random",
        0,
        _random_rule,
        philox.normal,
        needs_step=True,
        doc="standard normal draws, new on every call",
    )
)
RANDOM_UNIFORM = register(
    OpDef(
        "random_uniform",
        "random",
        0,
        _random_rule,
        philox.uniform,
        needs_step=True,
        doc="uniform draws in [0, 1), new on every call",
    )
)


def _random(op: OpDef, shape: Any, seed: int | None, dtype: Any) -> Node:
    dims, dt = check_shape(shape, op.name), as_dtype(dtype)
    with _state.lock:
        stream = next(_state.streams)
        seed = _state.seed if seed is None else _check_seed(seed)
    attrs = {"shape": dims, "dtype": dt, "seed": seed, "stream": stream}
    _random_rule(dims, dt, seed, stream)
    return Node(op, (), attrs, dims, dt, user_location(), None, current_grad_of())


def random_normal(shape: Any, seed: int | None = None, dtype: Any = "float32") -> Node:
    """Standard normal draws of `shape`, new on every call of the compiled function."""
    return _random(RANDOM_NORMAL, shape, seed, dtype)


def random_uniform(shape: Any, seed: int | None = None, dtype: Any = "float32") -> Node:
    """Uniform draws in [0, 1) of `shape`, new on every call of the compiled function."""
    return _random(RANDOM_UNIFORM, shape, seed, dtype)
