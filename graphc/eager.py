"""The define-by-run baseline: a tape of the same op declarations, run op by op.

Each op computes its result at once with the op's NumPy reference and, when gradients are
wanted, remembers its op, inputs and attributes. `backward()` runs the op's VJP rules (the same
rules the symbolic pass uses) in reverse topological order, without recursion, and accumulates
into `.grad` of leaves as PyTorch does: a second backward adds to the first.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .backends.numpy.executor import evaluate
from .dtypes import array_of, as_dtype, is_float, scalar_dtype, short_name
from .errors import DTypeError, GraphcError, GraphError, ShapeError
from .ir import Graph, Node, topological_order
from .operators import Operators

Hook = Callable[["Tensor"], "Tensor | None"]


class _GradMode(threading.local):
    enabled = True
    made: tuple[set[int], ...] = ()  # the sets `tracking_made` fills


_mode = _GradMode()
_engine: Any = None  # reverse mode's sweep, wired in by graphc.differentiate (see use_engine)


def use_engine(backpropagate: Any) -> None:
    """Make `.backward()` run `backpropagate` (reverse mode, one layer up, lends it to the tape)."""
    global _engine
    _engine = backpropagate


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block, eager ops record nothing and results never require gradients."""
    saved = _mode.enabled
    _mode.enabled = False
    try:
        yield
    finally:
        _mode.enabled = saved


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Inside this block eager ops record again (a recomputation inside a backward pass)."""
    saved = _mode.enabled
    _mode.enabled = True
    try:
        yield
    finally:
        _mode.enabled = saved


@contextlib.contextmanager
def tracking_made() -> Iterator[set[int]]:
    """The ids of the recorded tensors eager ops make inside this block (a checkpointed block's
    own values, as against those it reads from outside)."""
    made: set[int] = set()
    saved = _mode.made
    _mode.made = (*saved, made)
    try:
        yield made
    finally:
        _mode.made = saved


def is_eager(value: Any) -> bool:
    """True for eager tensors."""
    return isinstance(value, Tensor)


class HookHandle:
    """Returned by `register_hook`; `remove()` unregisters the hook."""

    def __init__(self, hooks: list[Hook], hook: Hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor(Operators):
    """An eager tensor: a NumPy array, and what made it if it requires gradients.

    A leaf has no op: the user created it. Only leaves that require gradients (and tensors that
    called `retain_grad`) keep `.grad` after `backward`.
    """

    __graphc_eager__ = True
    __slots__ = ("data", "grad", "_requires_grad", "op", "inputs", "attrs", "name", "_hooks", "_retain", "_version",
                 "_read")

    def __init__(self, data: np.ndarray, requires_grad: bool = False, name: str | None = None) -> None:
        self.data = data
        self.grad: Tensor | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad
        self.op: Any = None
        self.inputs: tuple[Tensor, ...] = ()
        self.attrs: dict[str, Any] = {}
        self.name = name
        self._hooks: list[Hook] = []
        self._retain = False
        self._version = 0  # how many times its data was overwritten in place (`changed_in_place`)
        self._read: tuple[int, ...] = ()  # its inputs' versions when it was recorded

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, wanted: bool) -> None:
        if wanted and not is_float(self.data.dtype):
            raise GraphError(f"only float tensors can require gradients, got {self.data.dtype.name}")
        self._requires_grad = bool(wanted)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it."""
        if not self.requires_grad:
            raise GraphError(
                f"backward() of a tensor that does not require grad ({self!r})"
            )
        if gradient is None:
            if self.size != 1:
                raise GraphError(
                    f"backward() needs a gradient argument for a non-scalar tensor of shape"
                    f" {self.shape}"
                )
            seed = Tensor(np.ones(self.shape, self.dtype))
        else:
            try:
                seed = tensor(gradient, dtype=self.dtype)
            except GraphcError as exc:
                raise type(exc)(f"backward(gradient): expected an array of shape {self.shape}: {exc.detail}") from None
            if seed.shape != self.shape:
                raise ShapeError(
                    f"backward(gradient): expected shape {self.shape}, got {seed.shape}"
                )
        order = topological_order([self])
        for t in order:
            for x, version in zip(t.inputs, t._read):
                if x._version != version:
                    raise GraphError(
                        f"backward: {x!r} was changed in place (an optimizer's step) after {t.op.name} read it;"
                        " its gradient would be taken at the new values: compute the loss again after the step"
                    )
        with no_grad():
            if _engine is None:
                raise GraphError("backward: reverse mode is not loaded; import graphc (not only graphc.eager)")
            _engine([self], [seed], wanted=None, on_final=_finish_gradient, order=order)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retain = True

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zeros (in place, when it is a tensor of its own)."""
        if isinstance(self.grad, Tensor) and self.grad.data.flags.writeable and self.grad.shape == self.shape:
            self.grad.data[...] = 0
        else:
            self.grad = Tensor(np.zeros_like(self.data))

    def detach(self) -> Tensor:
        """The same data, cut from the tape: no gradient flows through the result. When this
        tensor takes part in a recorded computation, the shared data is read-only: writing it
        would change the gradients that backward() computes (PyTorch detects that too)."""
        return Tensor(self._shared())

    def register_hook(self, hook: Hook) -> HookHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise GraphError(f"register_hook on a tensor that does not require grad ({self!r})")
        if not callable(hook):
            raise GraphError(f"register_hook takes a function of the gradient, got {hook!r}")
        self._hooks.append(hook)
        return HookHandle(self._hooks, hook)

    def numpy(self) -> np.ndarray:
        """The data; read-only when this tensor takes part in a recorded computation (writing
        it would silently change the gradients backward() computes)."""
        return self._shared()

    def _shared(self) -> np.ndarray:
        if not self.requires_grad:
            return self.data
        shared = self.data.view(_SharedData)
        shared.flags.writeable = False
        return shared

    def item(self) -> Any:
        return self.data.item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self._shared().view(np.ndarray) if self.requires_grad else self.data
        return data if dtype is None else data.astype(dtype)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ")
        grad = ", requires_grad=True" if self.requires_grad else ""
        dt = "" if self.dtype == np.float32 else f", dtype={short_name(self.dtype)}"
        return f"tensor({body}{dt}{grad})"


class _SharedData(np.ndarray):
    """The data of a tensor that takes part in a recorded computation, seen from outside it
    (`detach()`, `numpy()`): read-only."""

    def __setitem__(self, key: Any, value: Any) -> None:
        raise GraphError(
            "cannot write into this data: it is shared with a tensor recorded for backward, whose"
            " gradients would silently change; copy it first (np.array(t.data))"
        )


def _finish_gradient(t: Tensor, g: Tensor) -> Tensor:
    """Run `t`'s hooks on its final gradient, then accumulate it if `t` keeps gradients."""
    for hook in list(t._hooks):
        replaced = hook(g)
        if replaced is not None:
            try:
                new = tensor(replaced, dtype=t.dtype)
            except GraphcError as exc:
                raise GraphError(f"a hook on {t!r} returned {replaced!r}, not a gradient: {exc.detail}") from None
            if new.shape != g.shape:
                raise ShapeError(
                    f"a hook on {t!r} returned a gradient of shape {new.shape}; expected {g.shape}, the"
                    f" shape of the tensor"
                )
            g = new
    if t.is_leaf or t._retain:
        before = t.grad
        if before is not None and (not isinstance(before, Tensor) or before.shape != g.shape or before.dtype != t.dtype):
            raise GraphError(f"{t!r} has a .grad that is not a tensor of its shape and dtype ({before!r}); set it to"
                             " None or zero_grad() before backward()")
        if before is None:  # a copy: one cotangent may reach several tensors (a + b gives both g)
            t.grad = Tensor(np.array(g.data, dtype=t.dtype))
        elif before.data.flags.writeable:
            before.data += g.data  # in place, as PyTorch: a reference to .grad sees the sum
        else:
            t.grad = Tensor(before.data + g.data)
    return g


def changed_in_place(t: Tensor) -> None:
    """Note that `t.data` was overwritten in place (an optimizer's step): a backward pass through
    a recording that read it before is refused, as its gradient would be taken at the new values."""
    t._version += 1


def tensor(value: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """An eager leaf tensor holding a copy of `value`.

    Python floats (and lists of them) become float32, as in PyTorch; NumPy values keep their dtype.
    """
    if is_eager(value):
        value = value.data
    if dtype is None:
        if isinstance(value, (np.ndarray, np.generic)):
            dtype = value.dtype
        elif isinstance(value, (bool, int, float)):
            dtype = scalar_dtype(value)
        else:
            try:
                dtype = np.asarray(value).dtype
            except (TypeError, ValueError) as exc:
                raise GraphError(f"tensor: expected a number or a (rectangular) array of numbers, got {value!r}:"
                                 f" {exc}") from None
            dtype = np.float32 if dtype == np.float64 else dtype
    dt = as_dtype(dtype)
    if requires_grad and not is_float(dt):
        raise GraphError(f"only float tensors can require gradients, got {dt.name}")
    if np.iscomplexobj(value):
        raise DTypeError(f"tensor: complex values are not supported, got {value!r}")
    return Tensor(array_of(value, dt, "tensor"), requires_grad, name)


def to_eager(value: Any) -> Tensor:
    """An eager tensor for `value`: eager tensors pass; a graph tensor that needs no feed and no
    variable (constants, fills, random draws, and anything computed from them alone) is
    evaluated now; other graph tensors cannot join eager mode."""
    if is_eager(value):
        return value
    if not isinstance(value, Node):
        raise GraphError(f"expected a tensor, got {value!r}")
    needs = [n for n in topological_order([value]) if n.op.numpy is None]
    if needs:
        raise GraphError(
            f"cannot mix eager tensors with the graph tensor {value!r}: it depends on"
            f" {needs[0].op.name} {needs[0].name!r} (created at {needs[0].location}), which has a value"
            " only inside a compiled function"
        )
    (result,) = evaluate(Graph([], [value]), {})
    return Tensor(np.array(result, dtype=value.dtype))


def apply(op: Any, inputs: tuple[Tensor, ...], attrs: dict[str, Any]) -> Tensor:
    """Run `op` now on eager `inputs`; record it on the tape if a gradient may be needed."""
    try:
        shape, dtype = op.infer(*inputs, **attrs)
    except ShapeError as exc:
        types = ", ".join(f"{short_name(x.dtype)}[{','.join(map(str, x.shape))}]" for x in inputs)
        raise ShapeError(f"{op.name}({types}): {exc.detail}") from None
    extra = {"step": 0} if op.needs_step else {}
    with np.errstate(all="ignore"):
        result = np.asarray(op.numpy(*(x.data for x in inputs), **attrs, **extra), dtype=dtype)
    out = Tensor(result.reshape(shape))
    if _mode.enabled and is_float(dtype) and op.vjp is not None:
        if any(x.requires_grad and op.vjp_rule(i) is not None for i, x in enumerate(inputs)):
            out.requires_grad = True
            out.op, out.inputs, out.attrs = op, inputs, attrs
            out._read = tuple(x._version for x in inputs)
            for made in _mode.made:
                made.add(id(out))
    return out

