"""Tensors with dimensions given at call time: recipes, replayed once the sizes are known.

`gc.placeholder((None, 784))` makes a `Recipe`, a tensor whose batch size is given only when a
compiled function is called. A public function given a recipe (each is wrapped by `replayable`)
records the call instead of building nodes, and returns recipes for its results. `replay` calls
the recorded functions again on ordinary placeholders of concrete shapes: the graph the user
would have built by declaring those sizes, so every shape rule and every Python computation on
shapes (a mean's 1/n, a reshape's -1, a gradient's sum over broadcast rows) runs on real numbers.
A compiled function replays once per set of sizes it meets (see `graphc.function`).

A recipe's shape and dtype come from running its call at two made-up sizes (`NOMINAL`): a
dimension that differs between the two is unknown (None). Every replay of a call draws the
random streams the recording drew, so a recipe's random nodes are the same at every size.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .errors import GraphcError, GraphError
from .ir import Node
from .opdef import OpDef
from .source import Location, replaying_at, user_location
from .tree import flatten, unflatten

# The two sizes a dimension given at call time takes while graphc finds a recipe's shape:
# multiples of 2..7, so that reshapes into groups of a few rows work at both.
NOMINAL = (210, 420)


def _unknown(**attrs: Any) -> Any:
    raise GraphError("a recipe has no shape rule: it is replayed at concrete sizes")


# Not registered with the op library: no program ever holds a recipe, only the graphs replayed from it.
RECIPE = OpDef("recipe", "leaf", 0, _unknown, None, doc="a tensor whose shape is known at call time", leaf="recipe")


class Call:
    """One recorded call of a public function: replayed with concrete tensors for its recipes."""

    __slots__ = ("fn", "args", "kwargs", "location", "streams", "shape", "root")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], location: Location,
                 streams: Any, shape: tuple[int | None, ...] | None = None) -> None:
        self.fn, self.args, self.kwargs, self.location, self.streams = fn, args, kwargs, location, streams
        self.shape = shape  # a placeholder's declared shape (None where given at call time); else None
        self.root: Recipe | None = None  # the placeholder's recipe

    def run(self, value_of: Callable[[Recipe], Any]) -> Any:
        """The call's result, with each recipe among its arguments read as value_of(recipe)."""
        args, kwargs = _substituted((self.args, self.kwargs), value_of)
        with replaying_at(self.location), _replaying_streams(self.streams):
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


_made_any = False  # until the first recipe exists, every wrapped function goes straight through
_streams: tuple[Callable[[], Any], Callable[[Any], Any]] | None = None


def use_streams(position: Callable[[], Any], replaying: Callable[[Any], Any]) -> None:
    """Lend the random streams' position and replay (the op library's, built on this module)."""
    global _streams
    _streams = (position, replaying)


def _replaying_streams(position: Any) -> Any:
    return contextlib.nullcontext() if position is None or _streams is None else _streams[1](position)


def declared(shape: tuple[int | None, ...], make: Callable[..., Node], dtype: Any, name: str | None) -> Recipe:
    """A placeholder of `shape` (None where the size is given at call time) made by
    make(shape, dtype, name) once the sizes are known."""
    global _made_any
    _made_any = True
    call = Call(make, (), {"dtype": dtype}, user_location(), None, shape)
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
    """`fn`, recording its calls on recipes instead of running them."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _made_any and (holds_recipe(args) or holds_recipe(kwargs)):
            return _record(fn, args, kwargs)
        return fn(*args, **kwargs)

    return wrapper


def _record(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    position = _streams[0]() if _streams is not None else None
    call = Call(fn, args, kwargs, user_location(), None)
    runs = []
    for k, size in enumerate(NOMINAL):
        # The first run draws streams as the call itself would; the second draws them again.
        call.streams = None if k == 0 else position
        try:
            runs.append(flatten(call.run(lambda r: r.nominal[k])))  # noqa: B023 - used at once
        except GraphcError as exc:
            raise type(exc)(f"{exc.detail} [shapes shown with each dimension given at call time (None) set to"
                            f" {size}]") from None
    call.streams = position
    (first, tree), (second, other) = runs
    what = getattr(fn, "__name__", "a function")
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


def replay(structure: Any, shapes: Mapping[Recipe, tuple[int, ...]]) -> Any:
    """`structure` (tensors in lists, tuples, dicts) with every recipe in it built for the
    placeholders' concrete `shapes`: calls replayed in the order recorded, each once."""
    results: dict[int, list[Any]] = {}
    for call in _calls_behind(structure):
        if call.shape is not None:
            results[id(call)] = [call.fn(shapes[call.root], **call.kwargs)]  # type: ignore[index]
        else:
            results[id(call)] = flatten(call.run(lambda r: results[id(r.call)][r.index]))[0]
    return _substituted(structure, lambda r: results[id(r.call)][r.index])


def declared_among(structure: Any) -> list[Recipe]:
    """The placeholders (recipes declared with unknown sizes) that `structure` is made from."""
    return [call.root for call in _calls_behind(structure) if call.root is not None]


def _calls_behind(structure: Any) -> list[Call]:
    """Every call the recipes in `structure` come from, each after the calls it reads."""
    order: list[Call] = []
    state: dict[int, bool] = {}  # id(call) -> finished
    stack: list[tuple[Call, bool]] = [(r.call, False) for r in _recipes_in(structure)][::-1]
    while stack:
        call, expanded = stack.pop()
        if expanded:
            state[id(call)] = True
            order.append(call)
            continue
        if id(call) in state:
            continue
        state[id(call)] = False
        stack.append((call, True))
        stack += [(r.call, False) for r in _recipes_in((call.args, call.kwargs))[::-1] if id(r.call) not in state]
    return order


def _recipes_in(structure: Any) -> list[Recipe]:
    if not holds_recipe(structure):
        return []
    return [x for x in flatten(structure)[0] if isinstance(x, Recipe)]
