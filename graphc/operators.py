"""Python operators and method spellings shared by symbolic nodes and eager tensors.

Each one calls the public function of the op library, which decides from its arguments whether
to build a graph node or to compute eagerly.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .errors import GraphcError

_library: ModuleType | None = None


def use(library: ModuleType) -> None:
    """Make the operators call `library`'s functions (the op library registers itself here,
    being built on the nodes these operators serve)."""
    global _library
    _library = library


def _lib() -> ModuleType:
    if _library is None:
        raise GraphcError("operators on tensors need the op library; import graphc (not only graphc.ir)")
    return _library


class Operators:
    """`+ - * / ** @`, unary `-`, comparisons, indexing, and method forms of common functions."""

    __slots__ = ()
    # NumPy defers to our reflected operators instead of building object arrays.
    __array_ufunc__ = None

    def __add__(self, other: Any) -> Any:
        return _lib().add(self, other)

    def __radd__(self, other: Any) -> Any:
        return _lib().add(other, self)

    def __sub__(self, other: Any) -> Any:
        return _lib().subtract(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _lib().subtract(other, self)

    def __mul__(self, other: Any) -> Any:
        return _lib().multiply(self, other)

    def __rmul__(self, other: Any) -> Any:
        return _lib().multiply(other, self)

    def __truediv__(self, other: Any) -> Any:
        return _lib().divide(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _lib().divide(other, self)

    def __pow__(self, other: Any) -> Any:
        return _lib().pow(self, other)

    def __rpow__(self, other: Any) -> Any:
        return _lib().pow(other, self)

    def __matmul__(self, other: Any) -> Any:
        return _lib().matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _lib().matmul(other, self)

    def __neg__(self) -> Any:
        return _lib().negative(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return _lib().abs(self)

    def __lt__(self, other: Any) -> Any:
        return _lib().less(self, other)

    def __le__(self, other: Any) -> Any:
        return _lib().less_equal(self, other)

    def __gt__(self, other: Any) -> Any:
        return _lib().greater(self, other)

    def __ge__(self, other: Any) -> Any:
        return _lib().greater_equal(self, other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return _lib().equal(self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return _lib().not_equal(self, other)

    __hash__ = object.__hash__

    def __and__(self, other: Any) -> Any:
        return _lib().logical_and(self, other)

    def __rand__(self, other: Any) -> Any:
        return _lib().logical_and(other, self)

    def __or__(self, other: Any) -> Any:
        return _lib().logical_or(self, other)

    def __ror__(self, other: Any) -> Any:
        return _lib().logical_or(other, self)

    def __invert__(self) -> Any:
        return _lib().logical_not(self)

    def __getitem__(self, key: Any) -> Any:
        return _lib().getitem(self, key)

    # Method spellings, micrograd- and NumPy-style: (3 * x**2).relu(), h.sum(axis=1).
    def exp(self) -> Any:
        return _lib().exp(self)

    def log(self) -> Any:
        return _lib().log(self)

    def sqrt(self) -> Any:
        return _lib().sqrt(self)

    def tanh(self) -> Any:
        return _lib().tanh(self)

    def sigmoid(self) -> Any:
        return _lib().sigmoid(self)

    def relu(self) -> Any:
        return _lib().relu(self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _lib().sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _lib().mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _lib().max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _lib().min(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Any:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _lib().reshape(self, shape)

    def transpose(self, *axes: Any) -> Any:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _lib().transpose(self, axes or None)

    @property
    def T(self) -> Any:
        return _lib().transpose(self)

    def astype(self, dtype: Any) -> Any:
        return _lib().cast(self, dtype)
