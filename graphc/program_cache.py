"""Programs kept on disk: a new process compiling a program seen before loads its optimized graph
and lowered program instead of running the passes and the lowering again (as JAX keeps compiled
XLA programs).

A program's key digests the source graph's structure, the compile options and graphc's own
code (with NumPy's version, which constant folding computes with), so a change to any of them
makes a new key. The structure is every node in topological order: its kind and op, its inputs
by position, shape, dtype, name, where the user wrote it, which forward node it differentiates
(by position, or by rank when that node is outside the graph) and its attributes, a constant's
value among them by content; then the graph's inputs and outputs by position. Variables'
values are no part of a program. A graph whose attributes hold more than plain data (a loop's
or a branch's body, a checkpoint's Python code) gets no key and is compiled as always.

The file is a pickle in which the source graph's nodes and the op declarations are named (by
position, by name), never copied: a loaded program holds the caller's own placeholders,
variables and every node the passes kept. The nodes the passes made are new objects, numbered
afresh in the order they were made. The folder is the kernels' (`program_folder`): private,
and refused when others may write to it, since loading a pickle runs what it says. A file that
cannot be read back (cut short, damaged, written for another key) is ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import pathlib
import pickle
import types
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import passes
from .backends.numba.lowering import LoweredProgram
from .backends.numba.machine_code import write_atomically
from .backends.numba.program import program_folder
from .errors import GraphcWarning
from .ir import Graph, Node, nodes_created
from .opdef import REGISTRY, OpDef
from .source import user_stacklevel

MAGIC = b"graphc program 1\n"
_PLAIN = (type(None), bool, int, str)


class _Unkept(Exception):
    """An attribute a key cannot describe."""


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of graphc's source files (the package and its passes) and of NumPy's version."""
    here = pathlib.Path(__file__).resolve().parent
    return source_digest([here, pathlib.Path(passes.__file__).resolve().parent], np.__version__)


def source_digest(folders: Sequence[pathlib.Path], salt: str) -> str:
    """A digest of the Python files in `folders`, by name and content (a size and a time of
    change can stay the same across an edit)."""
    digest = hashlib.sha256(salt.encode())
    for base in folders:
        for path in sorted(base.rglob("*.py")):
            digest.update(f"{path.relative_to(base)}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """An attribute as plain data whose repr tells apart any two that differ (arrays by digest)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        return ("float", repr(value))  # nan, inf and -0.0 included
    if isinstance(value, (np.generic, np.dtype)):
        return ("numpy", str(getattr(value, "dtype", value)), repr(value))
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise _Unkept
        data = np.ascontiguousarray(value).tobytes()
        return ("array", value.dtype.str, value.shape, hashlib.sha256(data).hexdigest())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_canonical(v) for v in value])
    if isinstance(value, slice):
        return ("slice", _canonical(value.start), _canonical(value.stop), _canonical(value.step))
    if value is Ellipsis:
        return ("...",)
    raise _Unkept


def named_nodes(source: Graph, updated: Sequence[Node]) -> list[Node]:
    """The nodes a kept program names rather than holds: the source graph's, in topological
    order, then the inputs it does not use and the updated variables it does not read."""
    named, seen = list(source.nodes), {id(n) for n in source.nodes}
    for n in (*source.inputs, *updated):
        if id(n) not in seen:
            named.append(n)
            seen.add(id(n))
    return named


def _outside(named: list[Node]) -> list[int]:
    """The ids, in order, of the forward nodes outside `named` that nodes in it differentiate."""
    inside = {n.id for n in named}
    return sorted({n.grad_of for n in named if n.grad_of is not None and n.grad_of not in inside})


def key_of(source: Graph, updated: Sequence[Node], options: Sequence[Any]) -> str | None:
    """The key of the program compiled from `source`, updating the variables `updated` (in the
    order of the updates, which `source.outputs` end with the new values of) with `options`;
    None if it cannot have one."""
    order = named_nodes(source, updated)
    at = {id(n): i for i, n in enumerate(order)}
    by_id = {n.id: i for i, n in enumerate(order)}
    rank = {g: k for k, g in enumerate(_outside(order))}
    files: dict[str, int] = {}  # each source file named once
    entries = []
    try:
        for n in order:
            grad = None if n.grad_of is None else by_id.get(n.grad_of, ("rank", rank.get(n.grad_of)))
            attrs = n.attrs
            entries.append((type(n).__name__, n.op.name, [at[id(x)] for x in n.inputs], n.shape, n.dtype.str, n.label,
                            files.setdefault(n.location.file, len(files)), n.location.line, grad,
                            [(k, _canonical(attrs[k])) for k in sorted(attrs)] if attrs else None))
    except _Unkept:
        return None
    # Ties in the schedule go by the order nodes were made: that order is part of the program.
    made_order = sorted(range(len(order)), key=lambda i: order[i].id)
    text = repr((list(options), list(files), entries, made_order, [at[id(p)] for p in source.inputs],
                 [at[id(o)] for o in source.outputs], [at[id(v)] for v in updated]))
    return hashlib.sha256((code_digest() + text).encode()).hexdigest()


def _path(key: str) -> pathlib.Path | None:
    folder, caching = program_folder(True)
    return folder / f"graphc_program_{key[:32]}.pkl" if caching and folder is not None else None


def _slots(node: Node) -> dict[str, Any]:
    return {k: getattr(node, k) for c in type(node).__mro__ for k in getattr(c, "__slots__", ()) if hasattr(node, k)}


def _new_node(cls: type) -> Node:
    return object.__new__(cls)  # type: ignore[no-any-return]


def _set_slots(node: Node, state: dict[str, Any]) -> None:
    for k, v in state.items():
        object.__setattr__(node, k, v)  # nodes are immutable once made; this is their making


def _proxy(items: dict[str, Any]) -> types.MappingProxyType[str, Any]:
    return types.MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """Names the source graph's nodes (by position) and the op declarations (by name)."""

    def __init__(self, file: io.BytesIO, source: list[Node]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.at = {id(n): i for i, n in enumerate(source)}

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, OpDef):
            return ("op", obj.name)
        k = self.at.get(id(obj))
        return None if k is None else ("node", k)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Node):  # its slots set once it is known, so inputs need no recursion
            return (_new_node, (type(obj),), _slots(obj), None, None, _set_slots)
        if type(obj) is types.MappingProxyType:
            return (_proxy, (dict(obj),))
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, source: list[Node]) -> None:
        super().__init__(file)
        self.source = source

    def persistent_load(self, pid: Any) -> Any:
        kind, k = pid
        return REGISTRY[k] if kind == "op" else self.source[k]


def save(key: str, named: list[Node], graph: Graph, lowered: LoweredProgram) -> None:
    """Keep `graph` (the optimized program) and `lowered` under `key`, naming the `named` nodes
    (`named_nodes`); atomically, so a reader finds a whole file or none."""
    path = _path(key)
    if path is None:
        return
    made = list(graph.nodes)  # in topological order: pickling one never recurses far
    # What the lowering keys by a node's address in this process goes by the node itself.
    by_address = {id(n): n for n in made + named}
    if not all(k in by_address for k in (*lowered.slots, *lowered.free, *lowered.at_end)):
        return  # an address of a node outside the program (a loop's body): nothing to name it by
    addressed = ([(by_address[k], v) for k, v in lowered.slots.items()], [(by_address[k], v) for k, v in lowered.free.items()],
                 [by_address[k] for k in lowered.at_end])
    bare = dataclasses.replace(lowered, slots={}, free={}, at_end=set())
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, named).dump((key, [n.id for n in named], _outside(named), made, graph, bare, addressed))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a value the key let through
        warnings.warn(f"graphc: this program cannot be kept on disk ({type(exc).__name__}: {exc}); it is compiled"
                      " again next time. Please report it.", GraphcWarning, stacklevel=user_stacklevel())
        return
    payload = buffer.getvalue()
    try:
        write_atomically(path, MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    except OSError:  # a full disk: the program is compiled again next time
        pass


def load(key: str, named: list[Node]) -> tuple[Graph, LoweredProgram] | None:
    """The optimized graph and lowered program kept under `key`, holding the `named` nodes
    (`named_nodes`) where they were named; None if there is none or it cannot be read."""
    path = _path(key)
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        return None
    end = data.find(b"\n", len(MAGIC))
    if not data.startswith(MAGIC) or end < 0:
        return None
    payload = data[end + 1:]
    if hashlib.sha256(payload).hexdigest().encode() != data[len(MAGIC):end]:
        return None
    try:
        kept, old_ids, old_outside, made, graph, bare, (slots, free, at_end) = _Unpickler(io.BytesIO(payload), named).load()
        if kept != key or len(old_ids) != len(named):
            return None
        _renumber(made, named, old_ids, old_outside)
        lowered = dataclasses.replace(bare, slots={id(n): v for n, v in slots}, free={id(n): v for n, v in free},
                                      at_end={id(n) for n in at_end})
    except Exception:  # noqa: BLE001 - whole and unchanged, yet not this code's: compiled again instead
        return None
    return graph, lowered


def _renumber(made: list[Node], named: list[Node], old_ids: list[int], old_outside: list[int]) -> None:
    """Fresh ids for the loaded nodes the passes made, in the order they were made, and their
    `grad_of` pointed at this process's nodes: a named node's id for its old one, and for a
    forward node outside the program the id this process's nodes give it (the key matched
    them by rank), else a fresh one."""
    kept = {id(n) for n in named}
    new = sorted((n for n in made if id(n) not in kept), key=lambda n: n.id)
    now = {old: n.id for old, n in zip(old_ids, named)}
    now.update(zip(old_outside, _outside(named)))
    for n in new:
        fresh = nodes_created()
        now[n.id] = fresh
        object.__setattr__(n, "id", fresh)
    for n in new:
        if n.grad_of is not None:
            if n.grad_of not in now:
                now[n.grad_of] = nodes_created()
            object.__setattr__(n, "grad_of", now[n.grad_of])
