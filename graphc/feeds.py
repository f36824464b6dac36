"""Checking a value against the shape and dtype it must have (feeds and variable assignment)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import type_string
from .errors import FeedError


def check_feed(value: Any, shape: tuple[int | None, ...], dtype: np.dtype, what: str,
               floats_convert: bool = True) -> np.ndarray:
    """`value` as an array of exactly `shape` (any size where it says None) and `dtype`, or
    FeedError naming `what` and the dimension that disagrees.

    NumPy arrays and scalars must convert safely (int32 into int64), except that floats of
    another width convert to a float dtype (float64 data feeds a float32 model, as TF1's
    feed_dict) when `floats_convert`, rounding but never overflowing; Python numbers and lists
    are converted when their kind fits (a list of floats feeds float32).
    """
    if type(value) is np.ndarray and value.dtype == dtype and value.shape == shape and value.flags.c_contiguous:
        return value  # the common case, as fast as it can be
    if hasattr(value, "__graphc_eager__"):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        rounds = floats_convert and array.dtype.kind == "f" and dtype.kind == "f"
        if array.dtype != dtype and not rounds and not np.can_cast(array.dtype, dtype, "safe"):
            raise FeedError(
                f"{what} expects {type_string(shape, dtype)}, got {type_string(array.shape, array.dtype)}"
                f" ({array.dtype.name} does not convert to {dtype.name} without loss; cast it first)"
            )
    else:
        try:
            array = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - anything not array-like is a bad feed
            raise FeedError(f"{what} expects {type_string(shape, dtype)}, got {value!r}") from exc
        ints = array.dtype.kind in "iub" and dtype.kind in "iu"  # range-checked below
        if array.dtype == object or not (ints or np.can_cast(array.dtype, dtype, "same_kind")):
            raise FeedError(
                f"{what} expects {type_string(shape, dtype)}, got {type(value).__name__} of"
                f" {array.dtype.name}"
            )
    if len(array.shape) != len(shape) or any(d is not None and a != d for a, d in zip(array.shape, shape)):
        if len(array.shape) != len(shape):
            how = f"{len(array.shape)} dimensions instead of {len(shape)}"
        else:
            i = next(i for i, (a, d) in enumerate(zip(array.shape, shape)) if d is not None and a != d)
            how = f"dimension {i} is {array.shape[i]}, not {shape[i]}"
        raise FeedError(
            f"{what} expects {type_string(shape, dtype)}, got {type_string(array.shape, array.dtype)}"
            f" (shape {array.shape} instead of {tuple(shape)}: {how})"
        )
    with np.errstate(all="ignore"):
        converted = np.asarray(array, dtype=dtype, order="C")
    if array.dtype != dtype:
        if dtype.kind in "iub" or array.dtype.kind in "iub":
            lost = converted.astype(array.dtype) != array  # out of range, or an int a float cannot hold
        else:
            lost = np.isfinite(array) & ~np.isfinite(converted)  # a float too large for the width
        if np.any(lost):
            bad = array[lost].flat[0].item()
            raise FeedError(
                f"{what} expects {type_string(shape, dtype)}, got the value {bad!r}, which {dtype.name} cannot hold"
            )
    return converted
