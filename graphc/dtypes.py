"""Dtypes: normalization, promotion and short names.

Promotion follows PyTorch: tensors of different kinds (bool < integer < float) take the dtype
of the highest kind among them (a float32 tensor with an int64 tensor is float32, where NumPy
says float64); within a kind, NumPy 2's rules (int8 with uint8 is int16). Python *and NumPy*
scalars are weak, as in PyTorch: ``x_f32 * np.float64(2)`` stays float32. Arrays are strong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DTypeError

SUPPORTED = tuple(
    np.dtype(t) for t in ("float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
)

_SHORT = {
    "float32": "f32",
    "float64": "f64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "bool": "bool",
}


def as_dtype(dtype: Any) -> np.dtype:
    """`dtype` as a supported NumPy dtype (in this machine's byte order), or DTypeError naming
    the supported ones."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"expected a dtype, got {dtype!r}") from exc
    if dt.byteorder not in "=|":  # big-endian data: the same dtype in this machine's order
        dt = dt.newbyteorder("=")
    if dt not in SUPPORTED:
        names = ", ".join(d.name for d in SUPPORTED)
        raise DTypeError(f"dtype {dt.name} is not supported; expected one of {names}")
    return dt


def type_string(shape: tuple[int | None, ...], dtype: np.dtype) -> str:
    """`f32[2,3]`: the dtype's short name and the shape."""
    return f"{short_name(dtype)}[{','.join(str(d) for d in shape)}]"


def short_name(dtype: np.dtype) -> str:
    """A compact spelling for printing: f32, i64, bool (an unsupported dtype keeps its name)."""
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


def is_float(dtype: np.dtype) -> bool:
    """True for dtypes that carry gradients."""
    return np.dtype(dtype).kind == "f"


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool (axes, sizes, seeds)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """A Python or NumPy int or float, not a bool (bounds, slopes, rates)."""
    return is_int(value) or isinstance(value, (float, np.floating))


def is_weak_scalar(value: Any) -> bool:
    """Python and NumPy scalars take the dtype of the tensor they meet."""
    return isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, np.ndarray)


def result_type(*operands: Any) -> np.dtype:
    """The dtype of an elementwise op on `operands` (dtypes of tensors, or weak scalars)."""
    strong = [o for o in operands if isinstance(o, np.dtype)]
    weak = [o.item() if isinstance(o, np.generic) else o for o in operands if not isinstance(o, np.dtype)]
    if not strong:
        return as_dtype(np.result_type(*[_default_scalar_dtype(w) for w in weak]))
    top = max(_KIND_RANK[d.kind] for d in strong)
    return as_dtype(np.result_type(*[d for d in strong if _KIND_RANK[d.kind] == top], *weak))


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # PyTorch's categories: bool < integer < float


def _default_scalar_dtype(value: Any) -> np.dtype:
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype("int64")
    return np.dtype("float32")


def scalar_dtype(value: Any) -> np.dtype:
    """The dtype a lone scalar gets when made a tensor: bool, int64, or float32 (as PyTorch)."""
    if isinstance(value, np.generic):
        return as_dtype(value.dtype)
    return _default_scalar_dtype(value)


def array_of(value: Any, dtype: np.dtype, what: str) -> np.ndarray:
    """`value` as a new NumPy array of `dtype`, or a DTypeError naming `what` and why not: too
    large for the dtype, or not a (rectangular) array of numbers."""
    try:
        return np.array(value, dtype=dtype)
    except OverflowError:
        raise DTypeError(f"{what}: {value!r} does not fit in {dtype.name}") from None
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{what}: cannot make a {dtype.name} array of {value!r} ({exc})") from None
