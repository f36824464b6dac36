"""Algebraic simplification and numerical stabilization, as a table of rewrite rules.

Each rule matches one op and returns a cheaper (or more stable) node computing the same value,
or None. Identities hold for every float, inf and signed zero, bit for bit, except the last bit of
x**3 -> x*x*x (PyTorch's own way; C's pow is a call no loop vectorizes); the stabilizations are
more accurate than what they replace, so they differ from it where it rounds or overflows. So x + 0 is kept (it is
+0 at x = -0) while x + (-0) -> x; a rule that would change a value's type, or fails for some
float (x*0 -> 0 for inf and nan; x-x -> 0 likewise), is not in the table.
The sweep visits inputs first, so chains collapse in one pass (--x -> x, then x+(-y) ...);
the pass repeats until nothing changes. Counters: how often each rule fired.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import graphc.ops as ops
from graphc.builder import CONSTANT
from graphc.ir import Graph, Node, topological_order
from graphc.opdef import OpDef
from graphc.ops.conditional import COND_OUTPUT
from graphc.ops.elementwise import (
    ADD,
    CAST,
    DIVIDE,
    EXP,
    LOG,
    MULTIPLY,
    NEGATIVE,
    POW,
    SIGMOID,
    STOP_GRADIENT,
    SUBTRACT,
    WHERE,
)
from graphc.ops.leaves import FULL
from graphc.ops.nn import LOG_SOFTMAX, SOFTMAX
from graphc.ops.reduction import SUM
from graphc.ops.shape import BROADCAST_TO, CONCATENATE, RESHAPE, SCATTER_INDEX, TRANSPOSE

from .base import PassResult
from .loops import products_out_of_loops
from .rewrite import rewrite, with_inputs


def constant_value(x: Node) -> float | None:
    """The one value every element of a literal has, or None (not a literal, or mixed)."""
    if x.op is FULL:
        return float(x.attrs["value"])
    if x.op is CONSTANT:
        v = x.attrs["value"]
        if v.size and v.dtype.kind in "fiub" and np.all(v == v.flat[0]):
            return float(v.flat[0])
    return None


def _is(x: Node, value: float) -> bool:
    return constant_value(x) == value


def _zero(x: Node, sign: float) -> bool:
    """Whether every element of literal x is a zero of `sign`'s sign (1.0 or -1.0); an integer
    zero has no sign, so it is both."""
    if constant_value(x) != 0:
        return False
    if x.dtype.kind != "f":
        return True
    return bool(np.all(np.signbit(np.asarray(x.attrs["value"], x.dtype)) == (sign < 0)))


def _same(x: Node, n: Node) -> Node | None:
    """`x` if it can stand for `n` (same shape and dtype), else None."""
    return x if x.shape == n.shape and x.dtype == n.dtype else None


def _either(a: Node, b: Node, neutral: float, n: Node) -> Node | None:
    """The operand that can stand for `n` when the other is the `neutral` element."""
    if _is(b, neutral) and _same(a, n) is not None:
        return a
    if _is(a, neutral) and _same(b, n) is not None:
        return b
    return None


# --- the rules; each comment is the identity it applies ---

def _add_zero(n: Node) -> Node | None:  # x + (-0) = x, (-0) + x = x (x + 0 is +0 at x = -0)
    a, b = n.inputs
    if _zero(b, -1.0) and _same(a, n) is not None:
        return a
    return _same(b, n) if _zero(a, -1.0) else None


def _add_negative(n: Node) -> Node | None:  # x + (-y) = x - y, (-x) + y = y - x
    a, b = n.inputs
    if b.op is NEGATIVE:
        return _same(ops.subtract(a, b.inputs[0]), n)
    if a.op is NEGATIVE:
        return _same(ops.subtract(b, a.inputs[0]), n)
    return None


def _sub_zero(n: Node) -> Node | None:  # x - (+0) = x
    a, b = n.inputs
    return _same(a, n) if _zero(b, 1.0) else None


def _zero_sub(n: Node) -> Node | None:  # (-0) - x = -x (0 - x is +0 at x = +0)
    a, b = n.inputs
    return _same(ops.negative(b), n) if _zero(a, -1.0) and a.dtype == b.dtype else None


def _sub_negative(n: Node) -> Node | None:  # x - (-y) = x + y
    a, b = n.inputs
    return _same(ops.add(a, b.inputs[0]), n) if b.op is NEGATIVE else None


def _mul_one(n: Node) -> Node | None:  # x * 1 = x, 1 * x = x
    a, b = n.inputs
    return _either(a, b, 1, n)


def _mul_minus_one(n: Node) -> Node | None:  # x * -1 = -x, -1 * x = -x
    a, b = n.inputs
    if _is(b, -1) and a.dtype == n.dtype:
        return _same(ops.negative(a), n)
    if _is(a, -1) and b.dtype == n.dtype:
        return _same(ops.negative(b), n)
    return None


def _mul_negatives(n: Node) -> Node | None:  # (-x) * (-y) = x * y
    a, b = n.inputs
    return _same(ops.multiply(a.inputs[0], b.inputs[0]), n) if a.op is NEGATIVE and b.op is NEGATIVE else None


def _div_one(n: Node) -> Node | None:  # x / 1 = x
    a, b = n.inputs
    return _same(a, n) if _is(b, 1) else None


def _double_negative(n: Node) -> Node | None:  # -(-x) = x
    (a,) = n.inputs
    return _same(a.inputs[0], n) if a.op is NEGATIVE else None


def _transpose(n: Node) -> Node | None:  # transpose(x, id) = x; transpose(transpose(x, p), q) = transpose(x, p∘q)
    (a,) = n.inputs
    axes = tuple(n.attrs["axes"])
    if axes == tuple(range(n.ndim)):
        return _same(a, n)
    if a.op is TRANSPOSE:
        inner = tuple(a.attrs["axes"])
        composed = tuple(inner[i] for i in axes)
        return _same(a.inputs[0], n) if composed == tuple(range(n.ndim)) else ops.transpose(a.inputs[0], composed)
    return None


def _reshape(n: Node) -> Node | None:  # reshape(x, shape(x)) = x; reshape(reshape(x, s), t) = reshape(x, t)
    (a,) = n.inputs
    if a.shape == n.shape:
        return _same(a, n)
    if a.op is RESHAPE:
        inner = a.inputs[0]
        return _same(inner, n) if inner.shape == n.shape else ops.reshape(inner, n.shape)
    return None


def _broadcast(n: Node) -> Node | None:  # broadcast_to(x, shape(x)) = x; nested broadcasts: the outer one
    (a,) = n.inputs
    if a.shape == n.shape:
        return _same(a, n)
    if a.size == 1 and constant_value(a) is not None:  # broadcast_to(c, s) = full(s, c): a literal
        return ops.full(n.shape, constant_value(a), n.dtype)
    if a.op is BROADCAST_TO:
        return ops.broadcast_to(a.inputs[0], n.shape)
    return None


def _cast_same(n: Node) -> Node | None:  # cast(x, dtype(x)) = x
    return _same(n.inputs[0], n)


def _stop_gradient(n: Node) -> Node | None:  # stop_gradient(x) = x once gradients are taken
    return _same(n.inputs[0], n)


def _log_exp(n: Node) -> Node | None:  # log(exp(x)) = x (no overflow for large x)
    (a,) = n.inputs
    return _same(a.inputs[0], n) if a.op is EXP else None


def _log_softmax(n: Node) -> Node | None:  # log(softmax(x)) = log_softmax(x) (no log(0) for tiny probabilities)
    (a,) = n.inputs
    return ops.log_softmax(a.inputs[0], a.attrs["axis"]) if a.op is SOFTMAX else None


def _log_sigmoid(n: Node) -> Node | None:  # log(sigmoid(x)) = -softplus(-x) (no log(0) for very negative x)
    (a,) = n.inputs
    return _same(ops.negative(ops.softplus(ops.negative(a.inputs[0]))), n) if a.op is SIGMOID else None


def _exp_log_softmax(n: Node) -> Node | None:  # exp(log_softmax(x)) = softmax(x)
    (a,) = n.inputs
    return ops.softmax(a.inputs[0], a.attrs["axis"]) if a.op is LOG_SOFTMAX else None


def _where_same(n: Node) -> Node | None:  # where(c, x, x) = x
    _, a, b = n.inputs
    return _same(a, n) if a is b else None


def _where_known(n: Node) -> Node | None:  # where(true, x, y) = x, where(false, x, y) = y
    c, a, b = n.inputs
    known = constant_value(c)
    if known is None:
        return None
    return _same(a if known else b, n)


def _cond_known(n: Node) -> Node | None:  # a result of cond(true, f, g) = f's, of cond(false, f, g) = g's
    cond = n.inputs[0]
    known = constant_value(cond.inputs[0])
    if known is None:
        return None
    body = cond.attrs["body"]
    branch = body.true if known else body.false
    new: dict[int, Node] = {id(p): x for p, x in zip(branch.inputs, cond.inputs[1:])}
    for m in topological_order([branch.outputs[n.attrs["index"]]]):
        if id(m) not in new:
            new[id(m)] = with_inputs(m, tuple(new[id(x)] for x in m.inputs))
    return new[id(branch.outputs[n.attrs["index"]])]


def _pow_constant(n: Node) -> Node | None:  # x**0 = 1, x**1 = x, x**2 = x*x; floats: x**3 = x*x*x, x**0.5 = sqrt(x), x**-1 = 1/x
    a, b = n.inputs
    if _is(b, 0):  # 1 for every x, NaN included (IEEE pow)
        return ops.full(n.shape, 1, n.dtype)
    if _is(b, 1):
        return _same(a, n)
    if a.dtype != n.dtype:
        return None
    if _is(b, 2):
        return _same(ops.multiply(a, a), n)
    if n.dtype.kind != "f":
        return None
    if _is(b, 3):  # as PyTorch computes it: within an ulp of pow, and a loop that vectorizes
        return _same(ops.multiply(ops.multiply(a, a), a), n)
    if _is(b, 0.5):
        return _same(ops.sqrt(a), n)
    if _is(b, -1):
        return _same(ops.divide(1.0, a), n)
    return None


def _sum_none(n: Node) -> Node | None:  # sum over no axes = x
    return _same(n.inputs[0], n) if not n.attrs["axis"] else None


def _sum_broadcast(n: Node) -> Node | None:  # sum(broadcast(x)) over broadcast axes = x * count
    (b,) = n.inputs
    if b.op is not BROADCAST_TO or n.dtype != b.dtype:
        return None
    x = b.inputs[0]
    axes = tuple(n.attrs["axis"])
    padded = (1,) * (b.ndim - x.ndim) + x.shape
    if not axes or any(padded[a] != 1 for a in axes):
        return None
    count = math.prod(b.shape[a] for a in axes)
    kept = padded if n.attrs["keepdims"] else tuple(d for i, d in enumerate(padded) if i not in axes)
    y = ops.multiply(x, count) if count != 1 else x
    if y.shape != kept:
        y = ops.reshape(y, kept)
    return y if y.shape == n.shape else ops.broadcast_to(y, n.shape)


def _blocks(n: Node) -> tuple[int, dict[int, Node]] | None:
    """A tensor zero but in blocks along one axis, as (axis, {start: block}), or None: a scatter
    of one row (x[t]'s gradient, the block a row of one axis less) or of one range along one
    axis (x[:, a:b]'s), or a concatenation of blocks and zero fills (what `_add_blocks` makes)."""
    if n.op is SCATTER_INDEX:
        key = n.attrs["key"]
        if len(key) == 1 and isinstance(key[0], int):
            return 0, {key[0]: n.inputs[0]}
        if any(isinstance(k, int) for k in key):
            return None
        partial = [d for d, (k, size) in enumerate(zip(key, n.shape)) if tuple(k) != (0, size, 1)]
        if len(partial) != 1 or key[partial[0]][2] != 1 or not 0 <= key[partial[0]][0] <= key[partial[0]][1]:
            return None
        return partial[0], {key[partial[0]][0]: n.inputs[0]}
    if n.op is not CONCATENATE:
        return None
    axis, at, blocks = n.attrs["axis"], 0, {}
    for piece in n.inputs:
        if not _is(piece, 0.0):
            row = piece.op is RESHAPE and axis == 0 and piece.shape[0] == 1 and piece.inputs[0].shape == piece.shape[1:]
            blocks[at] = piece.inputs[0] if row else piece
        at += piece.shape[axis]
    return axis, blocks


def _add_blocks(n: Node) -> Node | None:  # scatter(a, block s) + scatter(b, block t) = blocks a, b and zeros
    # The gradient of a loop's slices x[t], or of a tensor's slices along an axis (an LSTM's four
    # gates), is a sum of tensors each zero but in one block: kept as blocks, it is one tensor,
    # not full-size buffers summed.
    a, b = n.inputs
    if a.shape != n.shape or b.shape != n.shape or a.dtype != n.dtype or b.dtype != n.dtype:
        return None
    found_a, found_b = _blocks(a), _blocks(b)
    if found_a is None or found_b is None or found_a[0] != found_b[0]:
        return None
    axis = found_a[0]

    def extent(block: Node) -> int:
        return 1 if block.ndim < n.ndim else block.shape[axis]

    blocks = dict(found_a[1])
    for t, g in found_b[1].items():
        if t in blocks and extent(blocks[t]) == extent(g) and blocks[t].shape == g.shape:
            blocks[t] = ops.add(blocks[t], g)
        elif t in blocks:
            return None
        else:
            blocks[t] = g
    pieces, at = [], 0
    for t in sorted(blocks):
        if t < at:  # overlapping blocks
            return None
        shape = (*n.shape[:axis], extent(blocks[t]), *n.shape[axis + 1:])
        if t > at:
            pieces.append(ops.full((*n.shape[:axis], t - at, *n.shape[axis + 1:]), 0, n.dtype))
        pieces.append(blocks[t] if blocks[t].shape == shape else ops.reshape(blocks[t], shape))
        at = t + extent(blocks[t])
    if at > n.shape[axis]:
        return None
    if at < n.shape[axis]:
        pieces.append(ops.full((*n.shape[:axis], n.shape[axis] - at, *n.shape[axis + 1:]), 0, n.dtype))
    return ops.concatenate(pieces, axis)


@dataclass(frozen=True)
class Rule:
    """One entry of the table: the op it matches, its counter's name, the rewrite."""

    op: OpDef
    name: str
    apply: Callable[[Node], Node | None]


RULES: tuple[Rule, ...] = (
    Rule(ADD, "x+(-0)", _add_zero),
    Rule(ADD, "x+(-y)", _add_negative),
    Rule(ADD, "sum of blocks", _add_blocks),
    Rule(SUBTRACT, "x-0", _sub_zero),
    Rule(SUBTRACT, "(-0)-x", _zero_sub),
    Rule(SUBTRACT, "x-(-y)", _sub_negative),
    Rule(MULTIPLY, "x*1", _mul_one),
    Rule(MULTIPLY, "x*-1", _mul_minus_one),
    Rule(MULTIPLY, "(-x)*(-y)", _mul_negatives),
    Rule(DIVIDE, "x/1", _div_one),
    Rule(NEGATIVE, "--x", _double_negative),
    Rule(TRANSPOSE, "transpose chain", _transpose),
    Rule(RESHAPE, "reshape chain", _reshape),
    Rule(BROADCAST_TO, "broadcast chain", _broadcast),
    Rule(CAST, "cast to own dtype", _cast_same),
    Rule(STOP_GRADIENT, "stop_gradient", _stop_gradient),
    Rule(LOG, "log(exp(x))", _log_exp),
    Rule(LOG, "log(softmax)", _log_softmax),
    Rule(LOG, "log(sigmoid)", _log_sigmoid),
    Rule(EXP, "exp(log_softmax)", _exp_log_softmax),
    Rule(WHERE, "where(c,x,x)", _where_same),
    Rule(WHERE, "where(known c)", _where_known),
    Rule(POW, "x**0, x**1, x**2, x**3, x**0.5, x**-1", _pow_constant),
    Rule(COND_OUTPUT, "cond(known c)", _cond_known),
    Rule(SUM, "sum over no axes", _sum_none),
    Rule(SUM, "sum of broadcast", _sum_broadcast),
)
_BY_OP: dict[OpDef, list[Rule]] = {}
for _rule in RULES:
    _BY_OP.setdefault(_rule.op, []).append(_rule)

MAX_SWEEPS = 8


def simplify(graph: Graph) -> PassResult:
    """`graph` with loops' accumulated products moved out of them (`products_out_of_loops`),
    then every rule of RULES applied until none fires (at most MAX_SWEEPS sweeps)."""
    fired: dict[str, int] = {}
    graph, moved = products_out_of_loops(graph)
    if moved:
        fired["products out of loops"] = moved

    def apply_rules(n: Node) -> Node:
        for rule in _BY_OP.get(n.op, ()):
            out = rule.apply(n)
            if out is not None and out is not n:
                fired[rule.name] = fired.get(rule.name, 0) + 1
                return out
        return n

    for _ in range(MAX_SWEEPS):
        before = sum(fired.values())
        graph = rewrite(graph, apply_rules)
        if sum(fired.values()) == before:
            break
    return PassResult(graph, fired)
