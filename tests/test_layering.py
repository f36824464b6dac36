"""The layout shows the architecture: graphc's modules import one another in one direction only
(no circle), and never from inside a function, where an import could hide a circle."""

from __future__ import annotations

import ast
import pathlib

import networkx as nx

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for base, prefix in ((ROOT / "graphc", ("graphc",)), (ROOT / "passes", ("graphc", "passes"))):
        for path in base.rglob("*.py"):
            parts = prefix + path.relative_to(base).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: pathlib.Path, modules: dict[str, pathlib.Path]) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for each graphc module `name` imports."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found += [(t, node in tree.body) for t in targets if t in modules and t != name]
    return found


def test_no_module_imports_in_a_circle() -> None:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target, _ in _imports(name, path, modules))
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"imports in a circle: {[' -> '.join(c) for c in cycles[:5]]}"


def test_no_function_local_imports() -> None:
    modules = _modules()
    local = [(name, target) for name, path in modules.items() for target, top in _imports(name, path, modules) if not top]
    assert not local, f"imports inside functions: {local}"


def test_the_ir_and_op_library_reach_no_compiling_back_end() -> None:
    # Directly or through anything they import: the IR, the op library and what they use (the
    # builder, the eager tape, the NumPy reference executor) never need the Numba back end,
    # the passes or the runtime.
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target, _ in _imports(name, path, modules))
    above = ("graphc.backends.numba", "graphc.passes", "graphc.function")
    for root in ("graphc.ir", "graphc.opdef", "graphc.ops", "graphc.builder", "graphc.eager"):
        reached = nx.descendants(graph, root) if root in graph else set()
        bad = sorted(m for m in reached if m.startswith(above))
        assert not bad, f"{root} reaches {bad}"


def test_ops_are_recognised_by_declaration_never_by_name() -> None:
    # `n.op is MATMUL` or a declared capability (`n.op.pointwise`, `n.op.leaf == "fed"`), not
    # `n.op.name == "matmul"`: a renamed or a new op cannot silently fall through a string test.
    def names_an_op(node: ast.expr) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "name" and (
            (isinstance(node.value, ast.Attribute) and node.value.attr == "op")
            or (isinstance(node.value, ast.Name) and node.value.id == "op"))

    def strings(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(strings(e) for e in node.elts)

    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and names_an_op(node.left) and any(strings(c) for c in node.comparators):
                found.append(f"{name}:{node.lineno}")
    assert not found, f"ops compared by name: {found}"


# The stages data flows through, in order (docs/architecture.md); a module is in the stage of
# the longest prefix that names it. Each imports only its own stage and earlier ones.
STAGES = [
    ["graphc.errors", "graphc.source", "graphc.dtypes", "graphc.tree", "graphc.philox", "graphc.opdef", "graphc.ir",
     "graphc.operators", "graphc.feeds", "graphc.printer", "graphc.recipes", "graphc.builder", "graphc.eager", "graphc.ops",
     "graphc.control", "graphc.backends.numpy.executor"],
    ["graphc.passes.base", "graphc.passes.reverse_mode", "graphc.passes.forward_mode", "graphc.differentiate",
     "graphc.optim", "graphc.checkpointing"],
    ["graphc.passes"],
    ["graphc.backends"],
    ["graphc.inspection"],
    ["graphc.memory_budget", "graphc.program_cache", "graphc.function", "graphc.saving"],
    ["graphc.cli", "graphc.__main__", "graphc"],
]


def _stage(module: str) -> int:
    best = max(((len(p), k) for k, prefixes in enumerate(STAGES) for p in prefixes
                if module == p or module.startswith(p + ".")), default=(0, -1))
    assert best[1] >= 0, f"{module} is in no stage"
    return best[1]


def test_imports_follow_the_stages() -> None:
    modules = _modules()
    backwards = [f"{name} -> {target}" for name, path in modules.items() for target, _ in _imports(name, path, modules)
                 if _stage(target) > _stage(name)]
    assert not backwards, f"imports of a later stage: {backwards}"
