"""Numba lowerings of gc.checkpoint's ops: a barrier is its first input (the order it imposes is
the graph's), a checkpoint output is a view of its forward value."""

from __future__ import annotations

from .... import checkpointing
from ..lowerings import register_scalar, register_view

register_scalar(checkpointing.BARRIER, lambda c, x, after: x)
register_view(checkpointing.CHECKPOINT, lambda x, **attrs: x)
