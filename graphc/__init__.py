"""graphc: a static-graph, define-and-run compiler for automatic differentiation.

Declare a graph of placeholders, variables and ops; differentiate it symbolically; compile it
with `gc.compile`; run it on NumPy data. The same functions run eagerly on `graphc.eager`
tensors, as a define-by-run baseline.
"""

from . import eager, optim
from .checkpointing import checkpoint
from .control import cond, fori_loop, scan
from .differentiate import grad, hvp, jacobian, jvp, vjp
from .errors import DTypeError, FeedError, GraphcError, GraphcWarning, GraphError, NumericsError, ShapeError
from .function import Function, compile
from .ir import Graph, Node, Variable, verify
from .ops import (
    abs,
    add,
    arctan,
    arctan2,
    argmax,
    avg_pool2d,
    broadcast_to,
    cast,
    ceil,
    clip,
    concatenate,
    constant,
    conv2d,
    conv_transpose2d,
    cos,
    cosh,
    cumsum,
    divide,
    dropout,
    einsum,
    equal,
    erf,
    exp,
    expand_dims,
    expm1,
    flip,
    floor,
    gelu,
    greater,
    greater_equal,
    hypot,
    layer_norm,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    log_softmax,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    matmul,
    max,
    max_pool2d,
    maximum,
    mean,
    min,
    minimum,
    mod,
    moveaxis,
    multiply,
    negative,
    not_equal,
    one_hot,
    pad,
    placeholder,
    pow,
    prod,
    random_normal,
    random_uniform,
    reciprocal,
    relu,
    repeat,
    reshape,
    round,
    set_seed,
    sigmoid,
    sign,
    sin,
    sinh,
    softmax,
    softmax_cross_entropy,
    softplus,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    stop_gradient,
    subtract,
    sum,
    swapaxes,
    take,
    tan,
    tanh,
    tile,
    transpose,
    tril,
    triu,
    var,
    variable,
    where,
)
from .saving import load, save

__version__ = "0.1.0"

__all__ = [
    "save", "load", "scan", "cond", "fori_loop", "checkpoint", "eager", "optim", "grad", "hvp", "jacobian",
    "jvp", "vjp", "DTypeError", "FeedError", "GraphcError", "GraphcWarning", "GraphError", "NumericsError",
    "ShapeError", "Function", "compile", "Graph", "Node", "Variable", "verify", "abs", "add", "argmax",
    "broadcast_to", "cast", "clip", "concatenate", "constant", "cos", "divide", "equal", "exp", "gelu",
    "greater", "greater_equal", "leaky_relu", "less", "less_equal", "log", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum",
    "multiply", "negative", "not_equal", "one_hot", "placeholder", "pow", "random_normal", "random_uniform",
    "relu", "reshape", "set_seed", "sigmoid", "sign", "sin", "softmax", "softmax_cross_entropy", "softplus",
    "sqrt", "stack", "stop_gradient", "subtract", "sum", "tanh", "transpose", "variable", "where", "square",
    "reciprocal", "log1p", "expm1", "erf", "tan", "arctan", "sinh", "cosh", "floor", "ceil", "round",
    "arctan2", "hypot", "logaddexp", "mod", "var", "std", "take", "squeeze", "expand_dims", "triu", "tril",
    "layer_norm", "dropout", "einsum", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "flip",
    "swapaxes", "moveaxis", "split", "pad", "tile", "repeat", "prod", "cumsum",
]


def __dir__() -> list[str]:
    """The public API (`__all__`) and the modules a user reaches for, not graphc's internals."""
    return sorted({*__all__, "optim", "eager", "__version__"})
