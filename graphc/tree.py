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
