"""Neural-network ops: softmax, log-softmax and softmax cross-entropy, each numerically stable;
layer normalization and dropout, composed of other ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..builder import apply, lift
from ..dtypes import is_number
from ..errors import ShapeError
from ..opdef import OpDef, register
from . import elementwise as ew
from . import random as rnd
from . import reduction as rd
from . import shape as sh


def _softmax_rule(x: Any, axis: int) -> tuple[tuple[int, ...], np.dtype]:
    if x.dtype.kind != "f":
        raise ShapeError(f"needs a float tensor, got {x.dtype.name}")
    return x.shape, x.dtype


def _softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _xent_rule(logits: Any, labels: Any) -> tuple[tuple[int, ...], np.dtype]:
    if logits.dtype.kind != "f" or logits.ndim < 1:
        raise ShapeError(
            f"logits must be a float tensor of 1 or more dimensions, got {logits.dtype.name}{list(logits.shape)}"
        )
    if labels.dtype.kind not in "iu":
        raise ShapeError(f"labels must be integers, got {labels.dtype.name}")
    if labels.shape != logits.shape[:-1]:
        raise ShapeError(f"labels of shape {labels.shape} do not match logits of shape {logits.shape}")
    return labels.shape, logits.dtype


def _xent_ref(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    n = logits.shape[-1]
    sh.check_labels(labels, n)
    picked = np.take_along_axis(logits, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    m = np.max(logits, axis=-1)
    # log(sum) - (picked - m), as PyTorch's -log_softmax: m + log(sum) would round log(sum) away
    # against a large m (three equal logits of 1e7 would lose log 3 in float32).
    return (np.log(np.sum(np.exp(logits - m[..., None]), axis=-1)) - (picked - m)).astype(logits.dtype)


def _xent_direction(logits: Any, labels: Any) -> Any:
    # The fused gradient of cross-entropy with respect to the logits: softmax - one_hot, whose
    # rows check the labels as the loss does (a step computing only gradients trained on zeros).
    return softmax(logits, -1) - apply(sh.ONE_HOT, (labels,), n=logits.shape[-1], dtype=logits.dtype, checked=True)



SOFTMAX = register(
    OpDef(
        "softmax",
        "nn",
        1,
        _softmax_rule,
        _softmax_ref,
        (lambda g, out, x, axis: out * (g - rd.sum(g * out, axis, keepdims=True)),),
        (lambda t, out, x, axis: out * (t - rd.sum(t * out, axis, keepdims=True)),),
        doc="exp(x) / sum(exp(x)) along an axis",
    )
)
LOG_SOFTMAX = register(
    OpDef(
        "log_softmax",
        "nn",
        1,
        _softmax_rule,
        _log_softmax_ref,
        (lambda g, out, x, axis: g - ew.exp(out) * rd.sum(g, axis, keepdims=True),),
        (lambda t, out, x, axis: t - rd.sum(ew.exp(out) * t, axis, keepdims=True),),
        doc="x - logsumexp(x) along an axis",
    )
)
SOFTMAX_CROSS_ENTROPY = register(
    OpDef(
        "softmax_cross_entropy",
        "nn",
        2,
        _xent_rule,
        _xent_ref,
        (
            lambda g, out, logits, labels: sh.reshape(g, g.shape + (1,)) * _xent_direction(logits, labels),
            None,
        ),
        (lambda t, out, logits, labels: rd.sum(t * _xent_direction(logits, labels), -1), None),
        doc="per-example -log softmax(logits)[label] over the last axis, for integer labels",
    )
)


def _axis(x: Any, axis: Any, what: str) -> int:
    """One axis (an int): softmax and log_softmax normalize along a single axis, as PyTorch."""
    return sh.axis_index(axis, x.ndim, what, "one int (it runs along a single axis)")


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, stable for large inputs."""
    (x,) = lift(x)
    return apply(SOFTMAX, (x,), axis=_axis(x, axis, "softmax"))


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - logsumexp(x) along `axis`, stable for large inputs."""
    (x,) = lift(x)
    return apply(LOG_SOFTMAX, (x,), axis=_axis(x, axis, "log_softmax"))


def softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """Per-example cross-entropy of integer `labels` under softmax(`logits`) (last axis)."""
    (logits,) = lift(logits)
    (labels,) = lift(labels)
    return apply(SOFTMAX_CROSS_ENTROPY, (logits, labels))


def layer_norm(x: Any, gain: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """(x - mean) / sqrt(var + eps) * gain + bias over the last axis (the biased variance, as
    PyTorch's layer_norm); `gain` and `bias` (shape x.shape[-1:], or None) are optional."""
    (x,) = lift(x)
    if x.ndim == 0 or x.dtype.kind != "f":
        raise ShapeError(f"layer_norm: needs a float tensor of 1 or more dimensions, got {x.dtype.name}{list(x.shape)}")
    if not is_number(eps) or eps < 0:
        raise ShapeError(f"layer_norm: eps must be a non-negative number, got {eps!r}")
    for what, p in (("gain", gain), ("bias", bias)):
        shape = tuple(p.shape if hasattr(p, "shape") else np.shape(p))
        if p is not None and shape != x.shape[-1:]:
            raise ShapeError(f"layer_norm: {what} must have shape {x.shape[-1:]} (the last axis), got {shape}")
    centered = x - rd.mean(x, -1, keepdims=True)
    out = centered / ew.sqrt(rd.mean(centered * centered, -1, keepdims=True) + float(eps))
    if gain is not None:
        out = out * gain
    if bias is not None:
        out = out + bias
    return out


def dropout(x: Any, p: float, seed: int | None = None) -> Any:
    """x with each entry zeroed with probability p and the others scaled by 1 / (1 - p), as
    PyTorch's dropout in training (this always drops: compile another function to evaluate).
    The mask comes from the counter-based generator (see `gc.random_uniform`): new on every call,
    the same in the backward pass and in any recomputation."""
    (x,) = lift(x)
    if not is_number(p) or not 0 <= p <= 1:
        raise ShapeError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if x.dtype.kind != "f":
        raise ShapeError(f"dropout: needs a float tensor, got {x.dtype.name}")
    if p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = rnd.random_uniform(x.shape, seed, x.dtype) >= float(p)
    return ew.where(keep, x * (1.0 / (1.0 - float(p))), 0.0)
