"""Compiler passes. Each is a pure function from a graph to a `PassResult` (graph, counters).

Installed, this folder is the package `graphc.passes`; import it only by that name.
"""

from .base import PassResult
from .forward_mode import forward_mode, push_forward
from .reverse_mode import backpropagate, reverse_mode

__all__ = ["PassResult", "backpropagate", "forward_mode", "push_forward", "reverse_mode"]
