"""Tensors with dimensions given at call time: recipes, replayed once the sizes are known.

`gc.placeholder((None, 784))` makes a `Recipe`, a tensor whose batch size is given only when a
compiled function is called. A public function given a recipe (each is wrapped by `replayable`)
records the call instead of building nodes, and returns recipes for its results. `Replay`
calls the recorded functions again on ordinary placeholders of concrete shapes: the graph the
user would have built by declaring those sizes, so every shape rule and every Python computation
on shapes (a mean's 1/n, a reshape's -1, a gradient's sum over broadcast rows) runs on real
numbers. A compiled function replays once per set of sizes it meets (see `graphc.function`).

What a recorded call reads is fixed when it is recorded, as building the graph would fix it:
arrays and lists among its arguments are copied, and functions among them (a scan's body, a
checkpoint's block) keep the values their closures and module globals held then. A recipe a
replayed function reads from outside its arguments (a tensor a scan's body closes over) is
the replay's own tensor for it.

A recipe's shape and dtype come from running its call at two made-up sizes (`NOMINAL`): a
dimension that differs between the two is unknown (None). Every replay of a call draws the
random streams the recording drew; a call whose number of draws depends on the sizes (a scan
over a sequence of unknown length) reserves a range of streams of its own.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .errors import GraphcError, GraphError
from .ir import Node
from .opdef import OpDef
from .source import Location, replaying_at, user_location
from .tree import flatten, unflatten

# The two sizes a dimension given at call time takes while graphc finds a recipe's shape:
# multiples of 2..6, 8, 10, 12 and 16, so that reshapes into groups of rows work at both.
NOMINAL = (240, 480)
# Streams set aside for a call whose number of random draws depends on the sizes (a scan of up
# to a million steps).
RESERVED_STREAMS = 2**20  # (a stream number is 32 bits: 4096 such ranges)


def _unknown(**attrs: Any) -> Any:
    raise GraphError("a recipe has no shape rule: it is replayed at concrete sizes")


# Not registered with the op library: no program ever holds a recipe, only the graphs replayed from it.
RECIPE = OpDef("recipe", "leaf", 0, _unknown, None, doc="a tensor whose shape is known at call time", leaf="recipe")


class Call:
    """One recorded call of a public function: replayed with concrete tensors for its recipes."""

    __slots__ = ("fn", "args", "kwargs", "location", "streams", "root")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], location: Location,
                 streams: Any) -> None:
        self.fn, self.args, self.kwargs, self.location, self.streams = fn, args, kwargs, location, streams
        self.root: Recipe | None = None  # for a placeholder's call: its recipe

    def run(self, value_of: Callable[[Recipe], Any]) -> Any:
        """The call's result, with each recipe it reads (among its arguments or from outside
        them) read as value_of(recipe)."""
        args, kwargs = _substituted((self.args, self.kwargs), value_of)
        with replaying_at(self.location), _replaying_streams(self.streams), _resolving(value_of):
            return self.fn(*args, **kwargs)


class Recipe(Node):
    """A tensor whose shape holds dimensions known only at call time (None). `call` made it
    (result `index` of it); `nominal` is what the call built at the two made-up sizes."""

    __slots__ = ("call", "index", "nominal")
    call: Call
    index: int
    nominal: tuple[Node, Node]

    def __init__(self, call: Call, index: int, nominal: tuple[Node, Node], label: str | None = None) -> None:
        a, b = nominal
        super().__init__(RECIPE, (), {}, a.shape, a.dtype, call.location, label)
        init = object.__setattr__
        init(self, "shape", tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))
        init(self, "call", call)
        init(self, "index", index)
        init(self, "nominal", nominal)

    @property
    def name(self) -> str:
        return self.label if self.label is not None else f"{self.nominal[0].op.name}_{self.id}"

    @property
    def size(self) -> int:
        raise GraphError(f"{self!r} has dimensions given at call time: its size is known only then")

    def __len__(self) -> int:
        if self.shape and self.shape[0] is None:
            raise GraphError(f"len() of {self!r}: its first dimension is given at call time")
        return super().__len__()

    def __repr__(self) -> str:
        return f"<graphc.Tensor {self.name}: {self.type} at {self.location}>"


class _Resolving(threading.local):
    value_of: Callable[[Recipe], Any] | None = None


_made_any = False  # until the first recipe exists, every wrapped function goes straight through
_resolver = _Resolving()
_streams: tuple[Callable[[], Any], Callable[[Any], Any], Callable[[Any], None]] | None = None


def use_streams(position: Callable[[], Any], replaying: Callable[[Any], Any], advance: Callable[[Any], None]) -> None:
    """Lend the random streams' position, replay and advance (the op library's, built on this module)."""
    global _streams
    _streams = (position, replaying, advance)


def _replaying_streams(position: Any) -> Any:
    return contextlib.nullcontext() if position is None or _streams is None else _streams[1](position)


@contextlib.contextmanager
def _resolving(value_of: Callable[[Recipe], Any]) -> Iterator[None]:
    saved = _resolver.value_of
    _resolver.value_of = value_of
    try:
        yield
    finally:
        _resolver.value_of = saved


def resolved(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Inside a replay, `values` with the replay's tensor for each recipe among them (one a block
    returned as it was given, say); otherwise `values` itself, at the cost of one lookup."""
    value_of = _resolver.value_of
    if value_of is None:
        return values
    return tuple(value_of(v) if isinstance(v, Recipe) else v for v in values)


def declared(shape: tuple[int | None, ...], make: Callable[..., Node], dtype: Any, name: str | None) -> Recipe:
    """A placeholder of `shape` (None where the size is given at call time) made by
    make(shape, dtype, name) once the sizes are known."""
    global _made_any
    _made_any = True
    call = Call(make, (), {"dtype": dtype}, user_location(), None)
    nominal = tuple(make(tuple(n if d is None else d for d in shape), dtype, name) for n in NOMINAL)
    root = Recipe(call, 0, nominal, name)  # type: ignore[arg-type]
    if name is None:
        object.__setattr__(root, "label", f"placeholder_{root.id}")
    call.kwargs["name"] = root.label
    call.root = root
    return root


def is_declared(recipe: Recipe) -> bool:
    """Whether `recipe` is a placeholder (not the result of a call)."""
    return recipe.call.root is recipe


def holds_recipe(value: Any) -> bool:
    """Whether `value` is a recipe, or a list, tuple or dict holding one."""
    if isinstance(value, Recipe):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds_recipe(v) for v in value)
    if isinstance(value, dict):
        return any(holds_recipe(v) for v in value.values())
    return False


def replayable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, recording its calls on recipes instead of running them (inside a replay, running
    it on the replay's tensors for them)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _made_any and (holds_recipe(args) or holds_recipe(kwargs)):
            value_of = _resolver.value_of
            if value_of is not None:
                return fn(*_substituted(args, value_of), **_substituted(kwargs, value_of))
            return record(fn, args, kwargs)
        return fn(*args, **kwargs)

    return wrapper


def frozen(fn: Any) -> Any:
    """A Python function `fn` reading the values its closure and its module's globals hold now,
    whatever they are rebound to later (a loop variable); anything else as it is."""
    if not isinstance(fn, types.FunctionType):
        return fn
    cells = None
    if fn.__closure__ is not None:
        cells = tuple(_cell_copy(c) for c in fn.__closure__)
    # Only the globals its code names: a copy of them all would also hold whatever else the
    # module's globals hold now (a training loop's last loss, and through its tape the blocks
    # and their copies before it: memory growing with every step).
    named = {"__builtins__", "__name__", *_global_names(fn.__code__)}
    kept = {k: v for k, v in fn.__globals__.items() if k in named}
    copy = types.FunctionType(fn.__code__, kept, fn.__name__, fn.__defaults__, cells)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__dict__.update(fn.__dict__)
    return copy


def _global_names(code: types.CodeType) -> set[str]:
    """The names `code` may read as globals: its own and those of the functions, lambdas and
    comprehensions written inside it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _cell_copy(cell: Any) -> Any:
    try:
        return types.CellType(cell.cell_contents)
    except ValueError:  # a cell not filled yet
        return types.CellType()


def _fixed(value: Any) -> Any:
    """An argument as it is now: containers rebuilt, arrays copied, functions frozen."""
    leaves, tree = flatten(value)
    return unflatten(tree, [np.array(x) if isinstance(x, np.ndarray) else frozen(x) for x in leaves])


def record(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The results of `fn(*args, **kwargs)` as recipes: the call recorded, to be replayed at the
    sizes given at call time (what a function given a recipe does; also for one whose result
    holds a recipe it read from outside its arguments)."""
    what = getattr(fn, "__name__", "a function")
    start = _streams[0]() if _streams is not None else None
    call = Call(fn, _fixed(args), _fixed(kwargs), user_location(), None)
    runs, used = [], []
    for k, size in enumerate(NOMINAL):
        # The first run draws streams as the call itself would; the second draws them again.
        with _replaying_streams(None if k == 0 else start):
            try:
                runs.append(flatten(call.run(lambda r: r.nominal[k])))  # noqa: B023 - used at once
            except GraphcError as exc:
                again = "; the call went through at the first size: does it keep a tensor from one run for the next" \
                        " (in a cache, a default argument or a global)? graphc runs it once per size" if k else ""
                raise type(exc)(f"{exc.detail} [shapes shown with each dimension given at call time (None) set to"
                                f" {size}{again}]") from None
            except TypeError as exc:
                raise GraphError(
                    f"{what}: {exc} [a dimension given at call time is None in `.shape`: write -1 in a reshape, or"
                    " make values from shapes inside a function decorated with graphc.recipes.replayable]"
                ) from None
            used.append(_streams[0]() if _streams is not None else None)
    call.streams = start
    if _streams is not None and used[0] != used[1]:  # draws that depend on the sizes get a range of their own
        _streams[2]((start[0], start[1] + RESERVED_STREAMS))  # type: ignore[index]
    (first, tree), (second, other) = runs
    if tree != other:
        raise GraphError(f"{what}: the structure of its result depends on the sizes given at call time")
    made: list[Any] = []
    for i, (a, b) in enumerate(zip(first, second)):
        if isinstance(a, Node) and isinstance(b, Node) and a.ndim == b.ndim:
            made.append(Recipe(call, i, (a, b)))
        elif not isinstance(a, Node) and not isinstance(b, Node) and _same(a, b):
            made.append(a)
        else:
            raise GraphError(f"{what}: its result depends on the sizes given at call time in a way graphc cannot"
                             f" replay ({a!r} at one size, {b!r} at another)")
    return unflatten(tree, made)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return a is b


def _substituted(structure: Any, value_of: Callable[[Recipe], Any]) -> Any:
    """`structure` with every recipe in it (through lists, tuples and dicts) replaced."""
    if not holds_recipe(structure):
        return structure
    leaves, tree = flatten(structure)
    return unflatten(tree, [value_of(x) if isinstance(x, Recipe) else x for x in leaves])


class Replay:
    """The recipes built for the placeholders' concrete `shapes`, each call replayed once, when
    first needed."""

    def __init__(self, shapes: Mapping[Recipe, tuple[int, ...]]) -> None:
        self.shapes = {id(r): shape for r, shape in shapes.items()}
        self.results: dict[int, list[Any]] = {}

    def __call__(self, structure: Any) -> Any:
        """`structure` (tensors in lists, tuples, dicts) with every recipe in it built."""
        return _substituted(structure, self.value)

    def value(self, recipe: Recipe) -> Any:
        if id(recipe.call) not in self.results:
            for call in _calls_behind(recipe, self.results):
                if call.root is not None:
                    if id(call.root) not in self.shapes:
                        raise GraphError(f"the graph reads placeholder {call.root.name!r} ({call.root.type}, created at"
                                         f" {call.root.location}), which is not among the function's inputs")
                    self.results[id(call)] = [call.fn(self.shapes[id(call.root)], **call.kwargs)]
                else:
                    self.results[id(call)] = flatten(call.run(self.value))[0]
        return self.results[id(recipe.call)][recipe.index]


def declared_among(structure: Any) -> list[Recipe]:
    """The placeholders (recipes declared with unknown sizes) that the recipes in `structure`
    are made from, as far as their calls' arguments show."""
    return [call.root for call in _calls_behind(structure, {}) if call.root is not None]


def _calls_behind(structure: Any, done: Mapping[int, Any]) -> list[Call]:
    """Every call the recipes in `structure` come from (through the calls' arguments) and not in
    `done`, each after the calls it reads."""
    order: list[Call] = []
    state: set[int] = set(done)
    stack: list[tuple[Call, bool]] = [(r.call, False) for r in _recipes_in(structure)][::-1]
    while stack:
        call, expanded = stack.pop()
        if expanded:
            order.append(call)
            continue
        if id(call) in state:
            continue
        state.add(id(call))
        stack.append((call, True))
        stack += [(r.call, False) for r in _recipes_in((call.args, call.kwargs))[::-1] if id(r.call) not in state]
    return order


def _recipes_in(structure: Any) -> list[Recipe]:
    if not holds_recipe(structure):
        return []
    return [x for x in flatten(structure)[0] if isinstance(x, Recipe)]
