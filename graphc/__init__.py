"""graphc: a static-graph, define-and-run compiler for automatic differentiation.

Declare a graph of placeholders, variables and ops; differentiate it symbolically; compile it
with `gc.compile`; run it on NumPy data. The same functions run eagerly on `graphc.eager`
tensors, as a define-by-run baseline.
"""

from . import eager, optim
from .differentiate import grad, hvp, jacobian, jvp, vjp
from .errors import DTypeError, FeedError, GraphcError, GraphcWarning, GraphError, NumericsError, ShapeError
from .function import Function, compile
from .ir import Graph, Node, Variable, verify
from .ops import (
    abs,
    add,
    argmax,
    broadcast_to,
    cast,
    clip,
    concatenate,
    constant,
    cos,
    divide,
    equal,
    exp,
    gelu,
    greater,
    greater_equal,
    leaky_relu,
    less,
    less_equal,
    log,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    not_equal,
    one_hot,
    placeholder,
    pow,
    random_normal,
    random_uniform,
    relu,
    reshape,
    set_seed,
    sigmoid,
    sign,
    sin,
    softmax,
    softmax_cross_entropy,
    softplus,
    sqrt,
    stack,
    stop_gradient,
    subtract,
    sum,
    tanh,
    transpose,
    variable,
    where,
)

__version__ = "0.1.0"

__all__ = [
    "eager", "optim", "grad", "hvp", "jacobian", "jvp", "vjp", "DTypeError", "FeedError", "GraphcError", "GraphcWarning",
    "GraphError", "NumericsError", "ShapeError", "Function", "compile", "Graph", "Node",
    "Variable", "verify", "abs", "add", "argmax", "broadcast_to", "cast", "clip", "concatenate",
    "constant", "cos", "divide", "equal", "exp", "gelu", "greater", "greater_equal", "leaky_relu",
    "less", "less_equal", "log", "log_softmax", "logical_and", "logical_not", "logical_or",
    "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "negative",
    "not_equal", "one_hot", "placeholder", "pow", "random_normal", "random_uniform", "relu",
    "reshape", "set_seed", "sigmoid", "sign", "sin", "softmax", "softmax_cross_entropy",
    "softplus", "sqrt", "stack", "stop_gradient", "subtract", "sum", "tanh", "transpose",
    "variable", "where",
]
