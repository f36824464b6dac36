"""Optimizers as graphs: each returns the `updates` dict of one training step.

State (momentum buffers, Adam's moments and step count) lives in variables the optimizer
creates. Each step follows `torch.optim` term for term (SGD; SGD with momentum, dampening 0;
Adam; AdamW), scalar factors computed in float64 and then cast to the parameter's dtype, as
PyTorch does with its Python-float step sizes. `weight_decay` adds weight_decay * p to the
gradient (sgd, momentum, adam) or shrinks p by lr * weight_decay before the step (adamw). The
learning rate is a number, a scalar tensor (a placeholder fed each step), or a schedule: a
function of the number of steps taken before this one (a float64 scalar tensor, 0 at the first
step), such as `lambda t: 0.1 * 0.95 ** t`. `grads=` steps with given gradients (one per
parameter, in order) instead of the loss's: clipped ones, from `clip_by_global_norm`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import eager
from .differentiate import grad
from .dtypes import is_float, is_number
from .errors import GraphError
from .ir import Node, Variable
from .ops import abs as abs_of
from .ops import cast, logical_or, minimum, sqrt, stack, where
from .ops import max as max_of
from .ops import sum as sum_of
from .ops.leaves import variable
from .recipes import replayable
from .tree import flatten, unflatten


class Updates(dict):  # type: ignore[type-arg]
    """The updates of one step ({variable: new value}); `gradients` maps each parameter to the
    gradient the step used, so a compiled step can report the gradient flow."""

    gradients: dict[Variable, Node]


def step_updates(values: Mapping[Variable, Node], gradients: Mapping[Variable, Node]) -> Updates:
    """`values` as a step's updates that remember the gradient each parameter used."""
    out = Updates(values)
    out.gradients = dict(gradients)
    return out


def _listed(tensors: Any) -> list[Any]:
    """One tensor, a list or tuple of them, or a dict of them (its values, as gc.grad takes
    them), as a list."""
    if isinstance(tensors, (Node, eager.Tensor)):
        return [tensors]
    return list(tensors.values() if isinstance(tensors, Mapping) else tensors)


def _params(items: list[Any]) -> list[Variable]:
    found: list[Variable] = []
    for p in items:
        if not isinstance(p, Variable):
            raise GraphError("optimizers update variables (or eager tensors that require gradients), given as one,"
                             f" a list or tuple, or a dict of them; got {p!r} among the parameters")
        if not is_float(p.dtype):
            raise GraphError(f"optimizers update float variables; got {p.name} of dtype {p.dtype.name}"
                             " among the parameters")
        found.append(p)
    return found


def _scheduled(lr: Any, what: str) -> tuple[Any, dict[Variable, Node]]:
    """A schedule's rate for this step (and the update of its step counter), or `lr` itself."""
    if not callable(lr) or isinstance(lr, Node):
        return lr, {}
    taken = variable(np.zeros((), np.float64), name=f"{what}.steps")
    return lr(taken), {taken: taken + 1.0}


def _gradients(loss: Node | None, ps: list[Variable], given: Sequence[Node] | None) -> dict[Variable, Node]:
    """Each parameter's gradient: `given` (one per parameter, in order: clipped ones, say; a
    dict beside a dict of parameters is paired by key), or the gradients of `loss`."""
    if given is None:
        if loss is None:
            raise GraphError("an optimizer needs the loss to differentiate (or grads=)")
        return dict(zip(ps, grad(loss, ps)))
    given = _listed(given)
    if len(given) != len(ps) or any(not isinstance(g, Node) or g.shape != p.shape for g, p in zip(given, ps)):
        raise GraphError(f"grads= must hold one tensor of each parameter's shape, in order: expected shapes"
                         f" {[p.shape for p in ps]}, got {[getattr(g, 'shape', g) for g in given]}")
    return dict(zip(ps, given))


def _state(p: Variable, what: str) -> Variable:
    return variable(np.zeros(p.shape, p.dtype), name=f"{p.name}.{what}")


def sgd(loss: Node | None, params: Sequence[Any] | Any, lr: Any, weight_decay: float = 0.0,
        grads: Sequence[Node] | None = None) -> Any:
    """p <- p - lr * (grad + weight_decay * p)."""
    return _optimizer(_Rule("sgd", weight_decay), loss, params, lr, grads)


def momentum(loss: Node | None, params: Sequence[Any] | Any, lr: Any, beta: float = 0.9,
             weight_decay: float = 0.0, grads: Sequence[Node] | None = None) -> Any:
    """buf <- beta * buf + grad; p <- p - lr * buf (torch.optim.SGD with momentum=beta), the
    gradient with weight_decay * p added."""
    return _optimizer(_Rule("momentum", weight_decay, beta=beta), loss, params, lr, grads)


def adam(
    loss: Node | None,
    params: Sequence[Any] | Any,
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    grads: Sequence[Node] | None = None,
) -> Any:
    """Adam, as torch.optim.Adam: bias-corrected moments, eps added after the square root, and
    weight_decay * p added to the gradient."""
    return _optimizer(_Rule("adam", weight_decay, betas=betas, eps=eps), loss, params, lr, grads)


def adamw(
    loss: Node | None,
    params: Sequence[Any] | Any,
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    grads: Sequence[Node] | None = None,
) -> Any:
    """AdamW, as torch.optim.AdamW: p shrinks by lr * weight_decay (decoupled from the
    gradient), then takes Adam's step."""
    return _optimizer(_Rule("adamw", weight_decay, betas=betas, eps=eps), loss, params, lr, grads)


class _Rule:
    """One optimizer's step for one parameter, written with graphc's functions, so that it
    builds graph nodes (compiled steps) or computes at once (eager tensors)."""

    def __init__(self, kind: str, weight_decay: float, beta: float = 0.9, betas: Any = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not is_number(weight_decay) or weight_decay < 0:
            raise GraphError(f"{kind}: weight_decay must be a non-negative number, got {weight_decay!r}")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise GraphError(f"{kind}: betas must be a pair (beta1, beta2), got {betas!r}")
        # As torch.optim: a value out of these ranges would turn the parameters into NaN or worse.
        for name, value, ok in (("beta", beta, lambda v: v >= 0), ("beta1", betas[0], lambda v: 0 <= v < 1),
                                ("beta2", betas[1], lambda v: 0 <= v < 1), ("eps", eps, lambda v: v >= 0)):
            if not is_number(value) or not ok(value):
                raise GraphError(f"{kind}: invalid {name} {value!r} (beta and eps >= 0; 0 <= beta1, beta2 < 1)")
        self.kind, self.weight_decay, self.beta, self.betas, self.eps = kind, weight_decay, beta, tuple(betas), eps
        self.state = {"sgd": (), "momentum": ("momentum",)}.get(kind, ("adam_m", "adam_v"))

    def step(self, p: Any, g: Any, state: list[Any], rate: Any, t: Any) -> tuple[Any, list[Any]]:
        """(the new p, the new state) after step number `t` (1 at the first) at learning rate `rate`."""
        if self.weight_decay and self.kind != "adamw":
            g = g + self.weight_decay * p  # torch.optim's weight_decay: L2 on the gradient
        if self.kind == "sgd":
            return p - _as(rate, p.dtype) * g, []
        if self.kind == "momentum":
            buf = state[0] * self.beta + g
            return p - _as(rate, p.dtype) * buf, [buf]
        beta1, beta2 = self.betas
        m, v = state
        weight = 1.0 - beta1  # torch: exp_avg.lerp_(grad, weight), whose formula depends on the weight
        new_m = m + weight * (g - m) if weight < 0.5 else g - (g - m) * (1.0 - weight)
        new_v = v * beta2 + (1.0 - beta2) * g * g  # torch: mul_(beta2).addcmul_(g, g, 1 - beta2)
        step_size = rate / (1.0 - beta1**t)  # float64, as PyTorch's Python floats
        correction = sqrt(1.0 - beta2**t) if isinstance(t, Node) else math.sqrt(1.0 - beta2**t)
        denom = sqrt(new_v) / _as(correction, p.dtype) + self.eps
        start = p
        if self.kind == "adamw" and self.weight_decay:
            start = p * _as(1.0 - rate * self.weight_decay, p.dtype)  # torch: p.mul_(1 - lr * wd)
        return start + _as(-step_size, p.dtype) * new_m / denom, [new_m, new_v]


def _optimizer(rule: _Rule, loss: Node | None, params: Any, lr: Any, given: Sequence[Node] | None) -> Any:
    """The updates of one compiled step, or, for eager tensors, an optimizer to step."""
    items = _listed(params)
    if items and all(eager.is_eager(p) for p in items):
        if given is not None:
            raise GraphError(f"{rule.kind}: an eager optimizer steps with each parameter's .grad; put given"
                             " gradients there (p.grad = g) instead of grads=")
        return EagerOptimizer(rule, items, lr)
    ps = _params(items)
    if isinstance(given, Mapping):  # a dict's meaning is its keys
        if not isinstance(params, Mapping):
            raise GraphError("grads= is a dict, which pairs with parameters given as a dict of the same keys;"
                             " give grads= as a list in the parameters' order")
        if set(given) != set(params):
            raise GraphError(f"grads= must have the keys of params: expected {sorted(map(repr, params))},"
                             f" got {sorted(map(repr, given))}")
        given = [given[k] for k in params]
    gradients = _gradients(loss, ps, given)
    updates: dict[Variable, Node] = {}
    t: Any = None
    if rule.kind in ("adam", "adamw"):
        steps = variable(np.zeros((), np.float64), name=f"{rule.kind}.step")
        updates[steps], t = steps + 1.0, steps + 1.0
        rate = lr(steps) if callable(lr) and not isinstance(lr, Node) else lr  # a schedule sees the steps taken
    else:
        rate, updates = _scheduled(lr, rule.kind)
    for p, g in gradients.items():
        state = [_state(p, what) for what in rule.state]
        updates[p], new_state = rule.step(p, g, state, _checked(rate, rule.kind), t)
        updates.update(zip(state, new_state))
    return step_updates(updates, gradients)


def _checked(rate: Any, what: str) -> Any:
    if isinstance(rate, Node) and rate.shape != ():
        raise GraphError(f"{what}: the learning rate must be a scalar, got shape {rate.shape}")
    if not isinstance(rate, Node) and not (is_number(rate) and rate >= 0):
        raise GraphError(f"{what}: the learning rate must be a number >= 0, a scalar tensor or a schedule, got {rate!r}")
    return rate


class EagerOptimizer:
    """An optimizer for eager tensors, as torch.optim's: `zero_grad()` drops the gradients,
    `step()` updates every parameter that has one (in place) by the same rule a compiled step
    uses. The learning rate is a number or a schedule of the steps taken."""

    def __init__(self, rule: _Rule, params: list[Any], lr: Any) -> None:
        if not all(p.requires_grad for p in params):
            raise GraphError(f"{rule.kind}: eager parameters must require gradients")
        self.rule, self.params, self.lr, self.steps = rule, params, lr, 0
        self.counts = [0] * len(params)  # each parameter's steps taken: Adam's bias correction, as torch's
        self.state = [[eager.tensor(np.zeros_like(p.data)) for _ in rule.state] for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        # A schedule sees the steps taken as a float64 scalar tensor, as a compiled step's does,
        # so that one written with graphc's functions (gc.minimum...) serves both modes.
        rate = self.lr(eager.tensor(np.float64(self.steps))) if callable(self.lr) else self.lr
        if eager.is_eager(rate) and rate.shape == ():
            rate = rate.item()
        if not is_number(rate):
            raise GraphError(f"{self.rule.kind}: an eager learning rate must be a number or a schedule giving one, got {rate!r}")
        with eager.no_grad():
            for k, p in enumerate(self.params):
                if p.grad is None:
                    continue
                self.counts[k] += 1
                new, self.state[k] = self.rule.step(p, p.grad, self.state[k], float(rate), float(self.counts[k]))
                p.data[...] = new.data
                eager.changed_in_place(p)
        self.steps += 1


def _as(value: Any, dtype: np.dtype) -> Any:
    """A tensor `value` (graph or eager) in `dtype` (numbers stay numbers: they take the
    tensor's dtype)."""
    return cast(value, dtype) if isinstance(value, (Node, eager.Tensor)) and value.dtype != dtype else value


def _norm(g: Any) -> Any:
    """The 2-norm of g, scaled by its largest magnitude first, so that g * g cannot overflow
    (1e200 has norm 1e200, not inf; an infinite entry gives inf)."""
    top = max_of(abs_of(g))
    safe = where(logical_or(top == 0, top == math.inf), 1.0, top)
    scaled = g / safe
    return where(top == math.inf, top, sqrt(sum_of(scaled * scaled)) * safe)


@replayable
def clip_by_global_norm(grads: Any, max_norm: float) -> tuple[Any, Node]:
    """(the gradients scaled by min(1, max_norm / (global norm + 1e-6)), the global norm), as
    torch.nn.utils.clip_grad_norm_: the global norm is the 2-norm of the gradients' 2-norms.
    `grads` is a tensor, or a list, tuple or dict of them; the result has its structure."""
    leaves, tree = flatten(grads)
    if not leaves or not all(isinstance(g, (Node, eager.Tensor)) for g in leaves):
        raise GraphError(f"clip_by_global_norm: expected tensors (or a list, tuple or dict of them), got {grads!r}")
    if not is_number(max_norm) or max_norm < 0:
        raise GraphError(f"clip_by_global_norm: max_norm must be a non-negative number, got {max_norm!r}")
    norms = [_norm(g) for g in leaves]
    dtype = norms[0].dtype
    total = _norm(stack([_as(n, dtype) for n in norms]))
    scale = minimum(float(max_norm) / (total + 1e-6), 1.0)
    return unflatten(tree, [g * _as(scale, g.dtype) for g in leaves]), total
