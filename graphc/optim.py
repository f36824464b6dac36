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

from collections.abc import Sequence
from typing import Any

import numpy as np

from .differentiate import grad
from .dtypes import is_number
from .errors import GraphError
from .ir import Node, Variable
from .ops import cast, minimum, sqrt, stack
from .ops import sum as sum_of
from .ops.leaves import variable
from .tree import flatten, unflatten


class Updates(dict):  # type: ignore[type-arg]
    """The updates of one step ({variable: new value}); `gradients` maps each parameter to the
    gradient the step used, so a compiled step can report the gradient flow."""

    gradients: dict[Variable, Node]


def _updates(values: dict[Variable, Node], gradients: dict[Variable, Node]) -> Updates:
    out = Updates(values)
    out.gradients = gradients
    return out


def _params(params: Sequence[Variable] | Variable) -> list[Variable]:
    items = [params] if isinstance(params, Node) else list(params)
    for p in items:
        if not isinstance(p, Variable):
            raise GraphError(f"optimizers update variables; got {p!r}")
    return items


def _rate(lr: Any, p: Variable) -> Any:
    """The learning rate as a factor for `p`: a number, or a tensor cast to p's dtype (a float64
    rate placeholder steps a float32 parameter, as PyTorch's Python-float rates do)."""
    if isinstance(lr, Node):
        if lr.shape != ():
            raise GraphError(f"the learning rate must be a scalar tensor, got shape {lr.shape}")
        return lr if lr.dtype == p.dtype else cast(lr, p.dtype)
    if not is_number(lr):
        raise GraphError(f"the learning rate must be a number, a scalar tensor or a schedule, got {lr!r}")
    return lr


def _scheduled(lr: Any, what: str) -> tuple[Any, dict[Variable, Node]]:
    """A schedule's rate for this step (and the update of its step counter), or `lr` itself."""
    if not callable(lr) or isinstance(lr, Node):
        return lr, {}
    taken = variable(np.zeros((), np.float64), name=f"{what}.steps")
    return lr(taken), {taken: taken + 1.0}


def _gradients(loss: Node, ps: list[Variable], given: Sequence[Node] | None) -> dict[Variable, Node]:
    """Each parameter's gradient: `given` (one per parameter, in order: clipped ones, say), or
    the gradients of `loss`."""
    if given is None:
        return dict(zip(ps, grad(loss, ps)))
    given = [given] if isinstance(given, Node) else list(given)
    if len(given) != len(ps) or any(not isinstance(g, Node) or g.shape != p.shape for g, p in zip(given, ps)):
        raise GraphError(f"grads= must hold one tensor of each parameter's shape, in order: expected shapes"
                         f" {[p.shape for p in ps]}, got {[getattr(g, 'shape', g) for g in given]}")
    return dict(zip(ps, given))


def _decayed(grads: dict[Variable, Node], weight_decay: float, what: str) -> dict[Variable, Node]:
    """grad + weight_decay * p (L2 regularization, as torch.optim's weight_decay)."""
    if not is_number(weight_decay) or weight_decay < 0:
        raise GraphError(f"{what}: weight_decay must be a non-negative number, got {weight_decay!r}")
    if not weight_decay:
        return grads
    return {p: g + weight_decay * p for p, g in grads.items()}


def _state(p: Variable, what: str) -> Variable:
    return variable(np.zeros(p.shape, p.dtype), name=f"{p.name}.{what}")


def sgd(loss: Node, params: Sequence[Variable] | Variable, lr: Any, weight_decay: float = 0.0,
        grads: Sequence[Node] | None = None) -> Updates:
    """p <- p - lr * (grad + weight_decay * p)."""
    ps = _params(params)
    gradients = _gradients(loss, ps, grads)
    lr, updates = _scheduled(lr, "sgd")
    for p, g in _decayed(gradients, weight_decay, "sgd").items():
        updates[p] = p - _rate(lr, p) * g
    return _updates(updates, gradients)


def momentum(loss: Node, params: Sequence[Variable] | Variable, lr: Any, beta: float = 0.9,
             weight_decay: float = 0.0, grads: Sequence[Node] | None = None) -> Updates:
    """buf <- beta * buf + grad; p <- p - lr * buf (torch.optim.SGD with momentum=beta), the
    gradient with weight_decay * p added."""
    ps = _params(params)
    gradients = _gradients(loss, ps, grads)
    lr, updates = _scheduled(lr, "momentum")
    for p, g in _decayed(gradients, weight_decay, "momentum").items():
        buf = _state(p, "momentum")
        new_buf = buf * beta + g
        updates[buf] = new_buf
        updates[p] = p - _rate(lr, p) * new_buf
    return _updates(updates, gradients)


def adam(
    loss: Node,
    params: Sequence[Variable] | Variable,
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    grads: Sequence[Node] | None = None,
) -> Updates:
    """Adam, as torch.optim.Adam: bias-corrected moments, eps added after the square root, and
    weight_decay * p added to the gradient."""
    return _adam(loss, params, lr, betas, eps, weight_decay, grads, decoupled=False)


def adamw(
    loss: Node,
    params: Sequence[Variable] | Variable,
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    grads: Sequence[Node] | None = None,
) -> Updates:
    """AdamW, as torch.optim.AdamW: p shrinks by lr * weight_decay (decoupled from the
    gradient), then takes Adam's step."""
    return _adam(loss, params, lr, betas, eps, weight_decay, grads, decoupled=True)


def _adam(loss: Node, params: Sequence[Variable] | Variable, lr: Any, betas: tuple[float, float], eps: float,
          weight_decay: float, given: Sequence[Node] | None, decoupled: bool) -> Updates:
    what = "adamw" if decoupled else "adam"
    ps = _params(params)
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise GraphError(f"{what}: betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = betas
    step = variable(np.zeros((), np.float64), name=f"{what}.step")
    t = step + 1.0
    rate = lr(step) if callable(lr) and not isinstance(lr, Node) else lr  # a schedule sees the steps taken
    if isinstance(rate, Node) and rate.shape != ():
        raise GraphError(f"{what}: the learning rate must be a scalar, got shape {rate.shape}")
    step_size = rate / (1.0 - beta1**t)  # float64, as PyTorch's Python floats
    bias_correction2_sqrt = sqrt(1.0 - beta2**t)
    updates: dict[Variable, Node] = {step: t}
    grads = _gradients(loss, ps, given)
    coupled = _decayed(grads, weight_decay, what)  # checks weight_decay
    if decoupled:
        coupled = grads
    for p, g in coupled.items():
        m, v = _state(p, "adam_m"), _state(p, "adam_v")
        new_m = m + (1.0 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        new_v = v * beta2 + (1.0 - beta2) * g * g  # torch: mul_(beta2).addcmul_(g, g, 1 - beta2)
        denom = sqrt(new_v) / cast(bias_correction2_sqrt, p.dtype) + eps
        updates[m], updates[v] = new_m, new_v
        start = p * _as(1.0 - rate * weight_decay, p.dtype) if decoupled and weight_decay else p  # torch: p.mul_(1 - lr * wd)
        updates[p] = start + cast(-step_size, p.dtype) * new_m / denom
    return _updates(updates, grads)


def _as(value: Any, dtype: np.dtype) -> Any:
    """A tensor `value` in `dtype` (numbers stay numbers: they take the tensor's dtype)."""
    return cast(value, dtype) if isinstance(value, Node) and value.dtype != dtype else value


def clip_by_global_norm(grads: Any, max_norm: float) -> tuple[Any, Node]:
    """(the gradients scaled by min(1, max_norm / (global norm + 1e-6)), the global norm), as
    torch.nn.utils.clip_grad_norm_: the global norm is the 2-norm of the gradients' 2-norms.
    `grads` is a tensor, or a list, tuple or dict of them; the result has its structure."""
    leaves, tree = flatten(grads)
    if not leaves or not all(isinstance(g, Node) for g in leaves):
        raise GraphError(f"clip_by_global_norm: expected tensors (or a list, tuple or dict of them), got {grads!r}")
    if not is_number(max_norm) or max_norm < 0:
        raise GraphError(f"clip_by_global_norm: max_norm must be a non-negative number, got {max_norm!r}")
    norms = [sqrt(sum_of(g * g)) for g in leaves]
    dtype = norms[0].dtype
    total = sqrt(sum_of(stack([_as(n, dtype) for n in norms]) ** 2))
    scale = minimum(float(max_norm) / (total + 1e-6), 1.0)
    return unflatten(tree, [g * _as(scale, g.dtype) for g in leaves]), total
