"""`gc.save` and `gc.load`: variables, or a whole compiled function, in one `.npz` file.

The file is a NumPy `.npz` archive: the arrays (variables' values, constants), and one entry
`graphc.json`, the manifest, as UTF-8 bytes. A function is saved as its graph: every node by its
op's registered name, its attributes in a small tagged JSON form (numbers, strings, tuples,
dtypes, references to arrays), and its inputs by position; no code and no pickle. Loading reads
the archive with `allow_pickle=False`, accepts only registered op names and the tags below,
rebuilds each node through the op's own shape rule (a file whose shapes do not follow is
refused), and compiles the function again with the options it was compiled with. So a crafted
file can make loading fail with a `GraphcError`, but cannot run code or write anywhere.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .builder import CONSTANT
from .checkpointing import CHECKPOINT
from .dtypes import as_dtype
from .errors import GraphcError
from .function import Function, SpecializingFunction
from .function import compile as compile_function
from .ir import STEP_LOCK, Graph, Node, Variable, nodes_created, topological_order, verify
from .opdef import REGISTRY
from .ops.conditional import Branches
from .ops.leaves import PLACEHOLDER, VARIABLE, placeholder, variable
from .ops.loop import Body
from .optim import step_updates
from .source import user_location
from .tree import unflatten

MANIFEST = "graphc.json"
FORMAT = 1


def save(path: str | os.PathLike[str], obj: Any) -> None:
    """Save `obj` to `path` (one `.npz` file, written as named): a list, tuple or dict of
    variables (their current values, in that structure, a tuple loading as a list; not nested),
    or a compiled function (its
    graph, variables' values and compile options; not one using gc.checkpoint)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(obj, SpecializingFunction):
        raise GraphcError(
            "save: this function's inputs have sizes given at call time, and its graph is built per size by"
            " replaying Python calls, which a file cannot hold; save one size's program"
            " (gc.save(path, f.program((32, 784), ...))) or the variables"
        )
    with STEP_LOCK:  # the values of whole steps (another thread may be training), copied
        if isinstance(obj, Function):
            manifest = _function_manifest(obj, arrays)
        else:
            manifest = _variables_manifest(obj, arrays)
    manifest["graphc"] = FORMAT
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # names and arrays, as savez takes them
    try:
        with open(path, "wb") as out:
            out.write(buffer.getvalue())
    except OSError as exc:
        raise GraphcError(f"save: cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from None


def load(path: str | os.PathLike[str]) -> Any:
    """What `save` wrote: the list or dict structure holding NumPy arrays (restore them with
    `v.assign`), or a callable compiled function (with new variables holding the saved values)."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("one array (a .npy file), not the .npz archive gc.save writes")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise GraphcError(f"load: {os.fspath(path)!r} is not a file gc.save wrote ({exc})") from None
    raw = arrays.pop(MANIFEST, None)
    try:
        manifest = json.loads(bytes(raw.astype(np.uint8)).decode()) if raw is not None and raw.dtype == np.uint8 else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("graphc") != FORMAT:
        raise GraphcError(f"load: {os.fspath(path)!r} has no graphc manifest of format {FORMAT}")
    kind = manifest.get("kind")
    if kind == "variables":
        return _load_variables(manifest, arrays)
    if kind == "function":
        return _load_function(manifest, arrays)
    raise GraphcError(f"load: unknown kind of saved object {kind!r}")


def _variables_manifest(obj: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    keys: list[Any] | None = None
    if isinstance(obj, Mapping):
        keys, values = list(obj), list(obj.values())
        if not all(isinstance(k, str) for k in keys):
            raise GraphcError("save: a dict of variables needs string keys")
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
    else:
        raise GraphcError(f"save: expected a list or dict of variables, or a compiled function; got {type(obj).__name__}")
    names = []
    for i, v in enumerate(values):
        if not isinstance(v, Variable):
            raise GraphcError(f"save: item {keys[i] if keys else i} is not a variable, got {v!r}")
        arrays[f"v{i}"] = v.store.array.copy()
        names.append(v.name)
    return {"kind": "variables", "keys": keys, "names": names}


def _load_variables(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    names, keys = manifest.get("names"), manifest.get("keys")
    if not isinstance(names, list) or (keys is not None and (not isinstance(keys, list) or len(keys) != len(names)
                                                               or not all(isinstance(k, str) for k in keys))):
        raise GraphcError("load: a damaged list of variables")
    values = []
    for i in range(len(names)):
        if f"v{i}" not in arrays:
            raise GraphcError(f"load: the value of variable {i} is missing")
        values.append(arrays[f"v{i}"])
    return dict(zip(keys, values)) if keys is not None else values


def _function_manifest(f: Function, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    roots = list(f.inputs) + list(f._outputs) + [v for pair in f._updates for v in pair] + \
        [v for pair in f._gradients.items() for v in pair]
    order = topological_order(roots)
    if any(n.op is CHECKPOINT for n in order):
        raise GraphcError("save: a function using gc.checkpoint holds Python code (the block to recompute), which a"
                          " file never does; save its variables instead and build the function again")
    index = {id(n): i for i, n in enumerate(order)}
    # What differentiating which forward node made each node (remat and the schedule read it):
    # the forward node's index when it is in the graph, else a rank among the others.
    at = {n.id: i for i, n in enumerate(order)}
    ranks = {g: k for k, g in enumerate(sorted({n.grad_of for n in order if n.grad_of is not None} - set(at)))}
    nodes = []
    for i, n in enumerate(order):
        entry: dict[str, Any] = {"op": n.op.name, "inputs": [index[id(x)] for x in n.inputs],
                                 "shape": list(n.shape), "dtype": n.dtype.name, "name": n.label}
        if n.grad_of is not None:
            entry["grad_of"] = {"node": at[n.grad_of]} if n.grad_of in at else {"rank": ranks[n.grad_of]}
        if isinstance(n, Variable):
            arrays[f"n{i}"] = n.store.array.copy()
        else:
            entry["attrs"] = {k: _encode(v, arrays, f"n{i}.{k}") for k, v in n.attrs.items()}
        nodes.append(entry)
    return {
        "kind": "function", "nodes": nodes, "inputs": [index[id(p)] for p in f.inputs],
        "outputs": [index[id(o)] for o in f._outputs], "tree": _encode_tree(f._out_tree),
        "updates": [[index[id(v)], index[id(value)]] for v, value in f._updates], "options": f.options,
        "gradients": [[index[id(v)], index[id(g)]] for v, g in f._gradients.items()],  # what gc.optim recorded
        "steps": f._steps,  # random draws go on where they were
    }


def _load_function(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Function:
    entries = manifest.get("nodes")
    if not isinstance(entries, list):
        raise GraphcError("load: the function's graph is missing")
    nodes: list[Node] = []
    ranked: dict[int, int] = {}  # a rank of grad_of -> a fresh id standing for its forward node
    for i, e in enumerate(entries):
        try:
            nodes.append(_node(i, e, nodes, arrays))
            made = e.get("grad_of")
            if made is not None:  # nodes are immutable: grad_of is set once, as the node is made
                if not isinstance(made, dict):
                    raise GraphcError(f"a derivative mark of unknown form {made!r}")
                k = made.get("node")
                grad_of = nodes[k].id if isinstance(k, int) and 0 <= k < i else \
                    ranked.setdefault(int(made.get("rank", -1)), nodes_created())
                object.__setattr__(nodes[i], "grad_of", grad_of)
        except GraphcError as exc:
            raise GraphcError(f"load: node {i} ({e.get('op') if isinstance(e, dict) else e!r}): {exc.detail}") from None
        except (TypeError, ValueError, KeyError, IndexError, RecursionError, OverflowError) as exc:
            raise GraphcError(f"load: node {i} is damaged ({type(exc).__name__}: {exc})") from None
    try:
        inputs = [nodes[k] for k in manifest["inputs"]]
        outputs = [nodes[k] for k in manifest["outputs"]]
        updates = {nodes[a]: nodes[b] for a, b in manifest["updates"]}
        gradients = {nodes[a]: nodes[b] for a, b in manifest.get("gradients", [])}
        tree = _decode_tree(manifest["tree"])
        if _leaves(tree) != len(outputs):
            raise ValueError(f"an output structure of {_leaves(tree)} values for {len(outputs)} outputs")
        options = dict(manifest["options"])
        steps = manifest.get("steps", 0)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise GraphcError(f"load: the function's inputs, outputs or options are damaged ({exc})") from None
    allowed = {"optimize", "check_numerics", "backend", "disable", "gradient_flow", "threads", "cache", "memory_budget"}
    if not set(options) <= allowed:
        raise GraphcError(f"load: unknown compile options {sorted(set(options) - allowed)}")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps < 2**63:
        raise GraphcError(f"load: a step count must be an int in [0, 2**63), got {steps!r}")
    stepped = step_updates(updates, gradients) if gradients else updates
    f = compile_function(inputs, unflatten(tree, outputs), updates=stepped or None, **options)
    f._steps = steps
    return f


def _node(i: int, e: dict[str, Any], nodes: list[Node], arrays: dict[str, np.ndarray]) -> Node:
    op = REGISTRY.get(e["op"])
    if op is None:
        raise GraphcError(f"unknown op {e['op']!r}")
    inputs = tuple(nodes[k] for k in e["inputs"] if 0 <= k < i)
    if len(inputs) != len(e["inputs"]):
        raise GraphcError("an input that does not come before the node")
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in e["shape"]):
        raise GraphcError(f"a shape must hold ints, got {e['shape']!r}")
    shape, dtype = tuple(e["shape"]), as_dtype(e["dtype"])
    name = e.get("name")
    if name is not None and not isinstance(name, str):
        raise GraphcError(f"a name must be a string, got {name!r}")
    if op is VARIABLE:
        value = arrays.get(f"n{i}")
        if value is None or value.shape != shape or value.dtype != dtype:
            raise GraphcError("the variable's value is missing or does not match its type")
        return variable(value, name)
    attrs = {k: _decode(v, arrays) for k, v in dict(e["attrs"]).items()}
    if op is PLACEHOLDER:
        return placeholder(shape, dtype, name)
    got = op.infer(*inputs, **attrs)
    if (tuple(got[0]), np.dtype(got[1])) != (shape, dtype):
        raise GraphcError(f"its shape rule gives {got}, the file says {(shape, dtype.name)}")
    if op is CONSTANT and not isinstance(attrs.get("value"), np.ndarray):
        raise GraphcError("a constant without its value")
    return Node(op, inputs, attrs, shape, dtype, user_location(), name)


def _encode(value: Any, arrays: dict[str, np.ndarray], key: str) -> Any:
    """An attribute as tagged JSON: arrays go to the archive under `key`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return {"int": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"float": repr(float(value))}
    if isinstance(value, np.dtype):
        return {"dtype": value.name}
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"array": key}
    if isinstance(value, (tuple, list)):
        return {"tuple" if isinstance(value, tuple) else "list": [_encode(v, arrays, f"{key}.{j}") for j, v in enumerate(value)]}
    if isinstance(value, Body):
        return {"body": _body_entry(value, arrays, key)}
    if isinstance(value, Branches):
        return {"branches": _graphs_entry(value.true.inputs, [value.true.outputs, value.false.outputs], arrays, key)}
    raise GraphcError(f"save: cannot store the attribute {value!r} ({type(value).__name__})")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise GraphcError(f"an attribute of unknown form {value!r}")
    (tag, body), = value.items()
    if tag == "int" and isinstance(body, int) and not isinstance(body, bool):
        return body
    if tag == "float" and isinstance(body, str):
        return float(body)  # a float's repr (inf and nan included)
    if tag == "dtype":
        return as_dtype(body)
    if tag == "array" and isinstance(body, str) and body in arrays:
        array = arrays[body]
        array.flags.writeable = False
        return array
    if tag in ("tuple", "list") and isinstance(body, list):
        items = [_decode(v, arrays) for v in body]
        return tuple(items) if tag == "tuple" else items
    if tag == "body" and isinstance(body, dict):
        return _load_body(body, arrays)
    if tag == "branches" and isinstance(body, dict):
        return _load_branches(body, arrays)
    raise GraphcError(f"an attribute of unknown form {value!r}")


def _graphs_entry(inputs: Sequence[Node], outputs: Sequence[Sequence[Node]], arrays: dict[str, np.ndarray],
                  key: str) -> dict[str, Any]:
    """Graphs over the same placeholders `inputs` (a loop's body, a cond's branches): their nodes
    (as a function's are, their derivative marks left out: they only order the program's own
    schedule), placeholders and each graph's outputs by position."""
    order = topological_order([*inputs, *(o for outs in outputs for o in outs)])
    index = {id(n): i for i, n in enumerate(order)}
    nodes = [{"op": n.op.name, "inputs": [index[id(x)] for x in n.inputs], "shape": list(n.shape), "dtype": n.dtype.name,
              "name": n.label, "attrs": {k: _encode(v, arrays, f"{key}.{i}.{k}") for k, v in n.attrs.items()}}
             for i, n in enumerate(order)]
    return {"nodes": nodes, "inputs": [index[id(p)] for p in inputs], "outputs": [[index[id(o)] for o in outs] for outs in outputs]}


def _load_graphs(entry: dict[str, Any], arrays: dict[str, np.ndarray], what: str) -> list[Graph]:
    """The graphs `_graphs_entry` stored, checked."""
    nodes: list[Node] = []
    for i, e in enumerate(entry["nodes"]):
        nodes.append(_node(i, e, nodes, arrays))
    inputs = [nodes[k] for k in entry["inputs"]]
    if any(p.op is not PLACEHOLDER for p in inputs):
        raise GraphcError(f"{what} whose inputs are not placeholders")
    graphs = [Graph(inputs, [nodes[k] for k in outs]) for outs in entry["outputs"]]
    for graph in graphs:
        verify(graph)
    return graphs


def _body_entry(body: Body, arrays: dict[str, np.ndarray], key: str) -> dict[str, Any]:
    """A loop's body: its graph, and its sizes."""
    entry = _graphs_entry(body.graph.inputs, [body.graph.outputs], arrays, key)
    return {**entry, "outputs": entry["outputs"][0], "carries": body.carries, "xs": body.xs, "length": body.length,
            "reverse": body.reverse}


def _load_body(entry: dict[str, Any], arrays: dict[str, np.ndarray]) -> Body:
    (graph,) = _load_graphs({**entry, "outputs": [entry["outputs"]]}, arrays, "a loop's body")
    sizes = [entry[k] for k in ("carries", "xs", "length")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes) or \
            sizes[0] + sizes[1] > len(graph.inputs) or sizes[0] > len(graph.outputs) or not isinstance(entry["reverse"], bool):
        raise GraphcError("a loop's body of damaged sizes")
    return Body(graph, sizes[0], sizes[1], sizes[2], entry["reverse"])


def _load_branches(entry: dict[str, Any], arrays: dict[str, np.ndarray]) -> Branches:
    graphs = _load_graphs(entry, arrays, "a cond's branches")
    if len(graphs) != 2 or [(o.shape, o.dtype) for o in graphs[0].outputs] != [(o.shape, o.dtype) for o in graphs[1].outputs]:
        raise GraphcError("a cond's branches of damaged types")
    return Branches(*graphs)


def _encode_tree(tree: Any) -> Any:
    """`graphc.tree`'s structure description as JSON."""
    if tree is None:
        return None
    kind, keys, children = tree
    name = {list: "list", tuple: "tuple", dict: "dict"}[kind]
    if keys is not None and not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys):
        raise GraphcError(f"save: the keys of a dict of outputs must be strings or ints, got {keys!r}")
    return {"kind": name, "keys": keys, "children": [[_encode_tree(t), n] for t, n in children]}


def _decode_tree(data: Any) -> Any:
    if data is None:
        return None
    kinds = {"list": list, "tuple": tuple, "dict": dict}
    if not isinstance(data, dict) or data.get("kind") not in kinds:
        raise ValueError(f"an output structure of unknown form {data!r}")
    keys = data.get("keys")
    if keys is not None and not all(isinstance(k, (str, int)) for k in keys):
        raise ValueError("output keys must be strings or ints")
    children = [(_decode_tree(t), n) for t, n in data["children"]]
    if not all(isinstance(n, int) and n == _leaves(t) for t, n in children) or \
            (keys is not None and len(keys) != len(children)):
        raise ValueError("an output structure of damaged counts")
    return (kinds[data["kind"]], keys, children)


def _leaves(tree: Any) -> int:
    """How many values the structure `tree` holds."""
    return 1 if tree is None else sum(n for _, n in tree[2])
