"""`gc.checkpoint(fn, *args)`: values computed inside `fn` are recomputed in the backward pass
instead of kept, as `torch.utils.checkpoint` (the tutorials' answer to training memory).

In a graph, `fn` is traced once for the forward values. Each output leaves the block through a
`checkpoint` node that holds the block's inputs (its arguments and the tensors it captured from
outside) and lets no gradient into the block's own nodes; its derivative rule traces `fn` again
on its arguments passed through `barrier`s that wait for the incoming cotangent, and
differentiates that copy. So the block's inner values die after the forward pass (the memory plan
frees them), the copy runs only once the backward pass reaches it, and random draws inside are
replayed (the same seed and streams): the results equal the plain program's. In eager mode the
block runs without recording, and the backward pass runs it again with recording on, as PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import eager
from .builder import apply, is_tensor, lift, substitutes, substituting
from .differentiate import jvp, vjp
from .errors import GraphError
from .ir import Node, nodes_created
from .opdef import OpDef, register
from .ops import reshape, stop_gradient
from .ops.random import replaying_streams, stream_position
from .recipes import frozen, replayable
from .tree import flatten, unflatten

BARRIER = register(
    OpDef(
        "barrier",
        "elementwise",
        2,
        lambda x, after: (x.shape, x.dtype),
        lambda x, after: x,
        (lambda g, out, x, after: g, None),
        doc="x, computed no earlier than the scalar `after` (orders a recomputation after it)",
        pointwise=True,
    )
)


def _recomputed(g: Any, inputs: tuple[Any, ...], block: Any, output: int, n_args: int, streams: Any,
                sources: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """The block traced again, reading its arguments and the tensors it captured each through a
    barrier waiting for `g`: its output `output`, and the barriers (the copy's inputs)."""
    after = reshape(g, (-1,))[0] if g.size else lift(np.zeros((), g.dtype))[0]
    barred = [apply(BARRIER, (a, after)) if a.dtype.kind == "f" else a for a in inputs]
    captured = dict(zip(sources, barred))  # what the code reads, the arguments too (a closure may)
    with replaying_streams(streams), substituting(captured):
        leaves, _ = flatten(block.call(barred[:n_args]))
    return lift(leaves[output])[0], barred


def _vjp(g: Any, out: Any, o: Any, *inputs: Any, index: int, output: int, block: Any, n_args: int, streams: Any,
         memo: Any, sources: tuple[int, ...]) -> Any:
    """The cotangent of input `index` (1 and up: the first input, the forward value, takes none)."""
    i = index - 1
    if eager.is_eager(g):
        return _eager_vjp(g, inputs, block, output, n_args, memo, sources, streams)[i]
    target, barred = _recomputed(g, inputs, block, output, n_args, streams, sources)
    return vjp(target, barred[i], g)  # at the barrier: paths around the block are the outer pass's


def _eager_vjp(g: Any, inputs: tuple[Any, ...], block: Any, output: int, n_args: int, memo: dict[int, Any],
               sources: tuple[int, ...], streams: Any) -> list[Any]:
    # Once per backward pass through this output: run the block again, recording, on fresh
    # copies of its arguments and captured tensors, and send g back through it. The memo holds,
    # per output, g itself, not its id: a later pass's cotangent may be given a freed one's
    # address; and two outputs may be sent one cotangent object (the block's a + b).
    seen = memo.get(output)
    if seen is None or seen[0] is not g:
        fresh = [eager.tensor(a.data, requires_grad=a.dtype.kind == "f") for a in inputs]
        captured = dict(zip(sources, fresh))
        with eager.enable_grad(), substituting(captured), replaying_streams(streams):
            leaves, _ = flatten(block.call(fresh[:n_args]))
            target = leaves[output]
            if target.requires_grad:
                target.backward(g.data)
        memo[output] = seen = (g, [f.grad if f.grad is not None else eager.tensor(np.zeros_like(f.data)) for f in fresh])
    return seen[1]


def _jvp(ts: list[Any], out: Any, o: Any, *inputs: Any, output: int, block: Any, n_args: int, streams: Any,
         memo: Any, sources: tuple[int, ...]) -> Any:
    # The block reads the node's own inputs for what it captured (a loop's body, CSE may have
    # put other tensors there than the ones the block's code closed over).
    with replaying_streams(streams), substituting(dict(zip(sources, inputs))):
        leaves, _ = flatten(block.call(list(inputs[:n_args])))
    return jvp(lift(leaves[output])[0], list(inputs), list(ts[1:]))


class _Block:
    """The function of a checkpoint, as a node attribute (compared by identity)."""

    def __init__(self, fn: Callable[..., Any], tree: Any) -> None:
        self.fn, self.tree = fn, tree

    def call(self, args: list[Any]) -> Any:
        return self.fn(*unflatten(self.tree, args))

    def __repr__(self) -> str:
        return f"<checkpointed {getattr(self.fn, '__name__', 'block')}>"


CHECKPOINT = register(
    OpDef(
        "checkpoint",
        "shape",
        None,
        lambda o, *inputs, **attrs: (o.shape, o.dtype),
        lambda o, *inputs, **attrs: o,
        (_vjp,),
        _jvp,
        doc="a checkpointed block's output: its value, with the block recomputed to differentiate it",
        view=True,
    )
)


@replayable
def checkpoint(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`, whose inner values are recomputed in the backward pass instead of kept
    (`args`: tensors, or lists/tuples/dicts of them). Tensors `fn` reads from outside (weights)
    get their gradients too. Nested blocks are allowed."""
    leaves, tree = flatten(list(args))
    inputs = [lift(a)[0] for a in leaves]
    block = _Block(frozen(fn), tree)  # the block as written now, whatever its loop variables become
    if any(eager.is_eager(a) for a in inputs):
        return _eager_checkpoint(block, inputs)
    first = nodes_created()
    streams = stream_position()
    outs, out_tree = _returned(block.call(inputs))
    outs = [lift(o)[0] for o in outs]
    if any(eager.is_eager(o) for o in outs):  # the block read eager tensors: it runs eagerly, on its
        with replaying_streams(streams):       # inputs' values (graph tensors of no placeholder)
            return _eager_checkpoint(block, inputs)
    captured = _captured(outs, inputs, first)
    made = []
    for k, o in enumerate(outs):
        if o.dtype.kind != "f":
            made.append(o)
            continue
        made.append(apply(CHECKPOINT, (stop_gradient(o), *inputs, *captured), output=k, block=block,
                          n_args=len(inputs), streams=streams, memo=None, sources=_sources([*inputs, *captured])))
    return unflatten(out_tree, made)


def _eager_checkpoint(block: _Block, inputs: list[Any]) -> Any:
    """The checkpoint of `block` in eager mode: run once without keeping its recording; the
    backward pass runs it again (graph inputs are made eager: they must have values)."""
    inputs = [eager.to_eager(a) for a in inputs]
    streams = stream_position()
    with eager.enable_grad(), eager.tracking_made() as inside:  # recorded once, to find what it reads from outside
        outs, out_tree = _returned(block.call(inputs))
    outs = [eager.to_eager(lift(o)[0]) if not eager.is_eager(o) else o for o in outs]
    captured = _eager_captured(outs, inputs, inside)
    memo: dict[int, Any] = {}  # per output, the last cotangent sent back and the gradients it gave
    attrs = dict(block=block, n_args=len(inputs), streams=streams, memo=memo, sources=_sources([*inputs, *captured]))
    made = [eager.apply(CHECKPOINT, (eager.tensor(o.data), *inputs, *captured), dict(attrs, output=k))
            for k, o in enumerate(outs)]
    return unflatten(out_tree, made)  # the recording is dropped: only the values are kept


def _returned(result: Any) -> tuple[list[Any], Any]:
    """The leaves of what a block returned, and its structure; a GraphError for a leaf that is
    not a tensor or a number."""
    leaves, tree = flatten(result)
    for o in leaves:
        if o is None or not (is_tensor(o) or np.asarray(o).dtype.kind in "biuf"):
            raise GraphError(f"checkpoint: the block must return tensors (or lists, tuples or dicts of them),"
                             f" got {o!r}")
    return leaves, tree


def _captured(outs: list[Node], inputs: list[Node], first: int) -> list[Node]:
    """The float tensors made before the block (id below `first`) that its nodes read directly:
    weights and other values it closed over (literals and the arguments aside)."""
    given = {id(x) for x in inputs}
    found: list[Node] = []
    seen: set[int] = set()
    stack = list(outs)
    while stack:
        n = stack.pop()
        if id(n) in seen or id(n) in given:
            continue
        seen.add(id(n))
        if n.id < first:
            if n.dtype.kind == "f" and n.op.leaf != "literal":
                found.append(n)
            continue
        stack.extend(n.inputs)
    return sorted(found, key=lambda n: n.id)


def _eager_captured(outs: list[Any], inputs: list[Any], made: set[int]) -> list[Any]:
    """The tensors requiring gradients that the block's recording reads from outside, the
    arguments aside: its weights, and values computed before it (whose own tape the
    recomputation must not walk into: the outer pass takes their gradients there, whole)."""
    given = {id(x) for x in inputs}
    found, seen, stack = [], set(), [o for o in outs if eager.is_eager(o)]
    while stack:
        t = stack.pop()
        if id(t) in seen or id(t) in given:
            continue
        seen.add(id(t))
        if t.requires_grad and (t.op is None or id(t) not in made):
            found.append(t)
        elif id(t) in made:
            stack.extend(t.inputs)
    return found


def _sources(read: list[Any]) -> tuple[int, ...]:
    """What the block's code reads for each of its inputs, arguments and captured tensors (by
    id): the tensor itself, or, when this block was traced inside another's recomputation, the
    original it stood in for. An argument may be read from a closure too: the recomputation
    must see its copy there as well, or the gradient along that path is lost."""
    back = {id(v): k for k, v in substitutes().items()}
    return tuple(back.get(id(c), id(c)) for c in read)
