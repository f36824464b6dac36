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


# NumPy ufunc -> graphc function (same meaning), for tensors handed to NumPy.
_UFUNCS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide", "divide": "divide",
    "power": "pow", "negative": "negative", "absolute": "abs", "exp": "exp", "log": "log", "sqrt": "sqrt",
    "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "arctan": "arctan", "sinh": "sinh", "cosh": "cosh",
    "log1p": "log1p", "expm1": "expm1", "floor": "floor", "ceil": "ceil", "rint": "round", "sign": "sign",
    "maximum": "maximum", "minimum": "minimum", "arctan2": "arctan2", "hypot": "hypot", "logaddexp": "logaddexp",
    "remainder": "mod", "square": "square", "reciprocal": "reciprocal", "matmul": "matmul", "less": "less",
    "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal", "equal": "equal",
    "not_equal": "not_equal", "logical_and": "logical_and", "logical_or": "logical_or",
    "logical_not": "logical_not",
}
# NumPy function -> the keyword arguments graphc's function of that name takes.
_REDUCE = {"axis", "keepdims"}
_FUNCTIONS: dict[str, set[str]] = {
    "sum": _REDUCE, "mean": _REDUCE, "max": _REDUCE, "min": _REDUCE, "var": _REDUCE | {"ddof"},
    "std": _REDUCE | {"ddof"}, "argmax": {"axis"}, "reshape": set(), "transpose": {"axes"}, "squeeze": {"axis"},
    "expand_dims": {"axis"}, "concatenate": {"axis"}, "stack": {"axis"}, "where": set(), "matmul": set(),
    "clip": set(), "broadcast_to": set(), "take": {"axis"}, "triu": {"k"}, "tril": {"k"}, "einsum": set(),
    "prod": _REDUCE, "cumsum": {"axis"}, "flip": {"axis"}, "swapaxes": set(), "moveaxis": set(), "split": {"axis"},
    "pad": {"constant_values"}, "tile": set(), "repeat": {"axis"},
}


class Operators:
    """`+ - * / ** @`, unary `-`, comparisons, indexing, and method forms of common functions."""

    __slots__ = ()

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's elementwise functions on tensors (`np.exp(t)`, `array + t`) run graphc's."""
        name = _UFUNCS.get(ufunc.__name__)
        if method != "__call__" or name is None or kwargs:
            extra = f" with {', '.join(f'{k}=' for k in kwargs)}" if kwargs else ""
            raise GraphcError(f"NumPy's {ufunc.__name__}{'' if method == '__call__' else '.' + method}{extra}"
                              " does not run on graphc tensors; docs/api.md lists the gc functions")
        return getattr(_lib(), name)(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """NumPy's functions on tensors (`np.sum(t, axis=0)`, `np.concatenate([a, b])`) run graphc's."""
        name = func.__name__
        if name not in _FUNCTIONS or not set(kwargs) <= _FUNCTIONS[name]:
            unknown = sorted(set(kwargs) - _FUNCTIONS.get(name, set()))
            extra = f" (graphc takes no {', '.join(unknown)}=)" if name in _FUNCTIONS else ""
            hint = f"use gc.{name}" if hasattr(_lib(), name) else f"graphc has no {name}: compose it from gc functions"
            raise GraphcError(f"np.{name} does not run on graphc tensors{extra}; {hint}")
        return getattr(_lib(), name)(*args, **kwargs)

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
