"""Flattening nested lists, tuples and dicts of tensors, and rebuilding the same structure."""

from __future__ import annotations

from typing import Any

Tree = Any  # a leaf marker, or (type, keys, children)
_LEAF = None


def flatten(structure: Any) -> tuple[list[Any], Tree]:
    """The leaves of `structure` in order, and a description to rebuild it."""
    if isinstance(structure, (list, tuple)):
        leaves: list[Any] = []
        children = []
        for item in structure:
            sub, tree = flatten(item)
            leaves += sub
            children.append((tree, len(sub)))
        return leaves, (type(structure), None, children)
    if isinstance(structure, dict):
        leaves, children = [], []
        for key in structure:
            sub, tree = flatten(structure[key])
            leaves += sub
            children.append((tree, len(sub)))
        return leaves, (dict, list(structure), children)
    return [structure], _LEAF


def unflatten(tree: Tree, leaves: list[Any]) -> Any:
    """The structure described by `tree`, with `leaves` in place of the original ones."""
    if tree is _LEAF:
        return leaves[0]
    kind, keys, children = tree
    items, at = [], 0
    for sub, n in children:
        items.append(unflatten(sub, leaves[at:at + n]))
        at += n
    if kind is dict:
        return dict(zip(keys, items))
    return kind(items) if kind in (list, tuple) else kind(*items)


def reorder_like(structure: Any, tree: Tree) -> Any:
    """`structure` with each dict whose keys are those of the dict at the same place in `tree`
    rebuilt in `tree`'s key order (a dict's meaning is its keys, not their order); the rest as
    it is."""
    if tree is _LEAF:
        return structure
    kind, keys, children = tree
    if kind is dict and isinstance(structure, dict) and set(structure) == set(keys) and len(structure) == len(keys):
        return {k: reorder_like(structure[k], sub) for k, (sub, _) in zip(keys, children)}
    if issubclass(kind, (list, tuple)) and isinstance(structure, (list, tuple)) and len(structure) == len(children):
        items = [reorder_like(item, sub) for item, (sub, _) in zip(structure, children)]
        return type(structure)(items) if type(structure) in (list, tuple) else type(structure)(*items)
    return structure


def layout(tree: Tree) -> Any:
    """`tree` with lists and tuples alike: what two structures must share for their leaves to
    pair up (dicts by their keys, once `reorder_like` has put them in the same order)."""
    if tree is _LEAF:
        return _LEAF
    kind, keys, children = tree
    kind = list if kind is tuple else kind
    return kind, keys, [(layout(sub), n) for sub, n in children]


def describe(tree: Tree, types: list[str]) -> str:
    """The structure `tree` as text, its leaves given by `types` in order: `(f32[], {'s': f64[2]})`."""
    at = iter(types)

    def text(t: Tree) -> str:
        if t is _LEAF:
            return next(at)
        kind, keys, children = t
        inner = [text(sub) for sub, _ in children]
        if kind is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(keys, inner)) + "}"
        if kind is list:
            return "[" + ", ".join(inner) + "]"
        body = ", ".join(inner) + ("," if len(inner) == 1 else "")
        return f"({body})" if kind is tuple else f"{kind.__name__}({body})"

    return text(tree)
