"""Optimizers as graphs: each returns the `updates` dict of one training step.

State (momentum buffers, Adam's moments and step count) lives in variables the optimizer
creates. Each step follows `torch.optim` term for term (SGD; SGD with momentum, dampening 0;
Adam), scalar factors computed in float64 and then cast to the parameter's dtype, as PyTorch
does with its Python-float step sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .differentiate import grad
from .dtypes import is_number
from .errors import GraphError
from .ir import Node, Variable
from .ops import cast, sqrt
from .ops.leaves import variable


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
        return lr if lr.dtype == p.dtype else cast(lr, p.dtype)
    if not is_number(lr):
        raise GraphError(f"the learning rate must be a number or a scalar tensor, got {lr!r}")
    return lr


def _state(p: Variable, what: str) -> Variable:
    return variable(np.zeros(p.shape, p.dtype), name=f"{p.name}.{what}")


def sgd(loss: Node, params: Sequence[Variable] | Variable, lr: Any) -> Updates:
    """p <- p - lr * grad."""
    ps = _params(params)
    grads = dict(zip(ps, grad(loss, ps)))
    return _updates({p: p - _rate(lr, p) * g for p, g in grads.items()}, grads)


def momentum(loss: Node, params: Sequence[Variable] | Variable, lr: Any, beta: float = 0.9) -> Updates:
    """buf <- beta * buf + grad; p <- p - lr * buf (torch.optim.SGD with momentum=beta)."""
    ps = _params(params)
    grads = dict(zip(ps, grad(loss, ps)))
    updates: dict[Variable, Node] = {}
    for p, g in grads.items():
        buf = _state(p, "momentum")
        new_buf = buf * beta + g
        updates[buf] = new_buf
        updates[p] = p - _rate(lr, p) * new_buf
    return _updates(updates, grads)


def adam(
    loss: Node,
    params: Sequence[Variable] | Variable,
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Updates:
    """Adam, as torch.optim.Adam: bias-corrected moments, eps added after the square root."""
    ps = _params(params)
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise GraphError(f"adam: betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = betas
    step = variable(np.zeros((), np.float64), name="adam.step")
    t = step + 1.0
    step_size = lr / (1.0 - beta1**t)  # float64, as PyTorch's Python floats
    bias_correction2_sqrt = sqrt(1.0 - beta2**t)
    updates: dict[Variable, Node] = {step: t}
    grads = dict(zip(ps, grad(loss, ps)))
    for p, g in grads.items():
        m, v = _state(p, "adam_m"), _state(p, "adam_v")
        new_m = m + (1.0 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        new_v = v * beta2 + (1.0 - beta2) * g * g  # torch: mul_(beta2).addcmul_(g, g, 1 - beta2)
        denom = sqrt(new_v) / cast(bias_correction2_sqrt, p.dtype) + eps
        updates[m], updates[v] = new_m, new_v
        updates[p] = p + cast(-step_size, p.dtype) * new_m / denom
    return _updates(updates, grads)
