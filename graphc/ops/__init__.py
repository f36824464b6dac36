"""The op library: every op declared once (see `graphc.opdef`), and the public functions."""

from .elementwise import (
    abs,
    add,
    cast,
    clip,
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
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    stop_gradient,
    subtract,
    tanh,
    where,
)
from .leaves import constant, full, full_like, placeholder, variable, zeros_like
from .linalg import matmul
from .nn import log_softmax, softmax, softmax_cross_entropy
from .random import random_normal, random_uniform, set_seed
from .reduction import argmax, logsumexp, max, mean, min, sum, sum_to_shape
from .shape import broadcast_to, concatenate, getitem, one_hot, reshape, stack, transpose

__all__ = [
    "abs", "add", "cast", "clip", "cos", "divide", "equal", "exp", "gelu", "greater",
    "greater_equal", "leaky_relu", "less", "less_equal", "log", "logical_and", "logical_not",
    "logical_or", "maximum", "minimum", "multiply", "negative", "not_equal", "pow", "relu",
    "sigmoid", "sign", "sin", "softplus", "sqrt", "stop_gradient", "subtract", "tanh", "where",
    "constant", "full", "full_like", "placeholder", "variable", "zeros_like", "matmul",
    "log_softmax", "softmax", "softmax_cross_entropy", "random_normal", "random_uniform",
    "set_seed", "argmax", "logsumexp", "max", "mean", "min", "sum", "sum_to_shape",
    "broadcast_to", "concatenate", "getitem", "one_hot", "reshape", "stack", "transpose",
]
