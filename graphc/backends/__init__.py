"""Back ends: what runs a compiled program, behind one small interface.

`gc.compile(backend=...)` names one: "numba" (kernels compiled to machine code,
`graphc.backends.numba`), "python" (the same kernels run by CPython, for reading and debugging
the lowering) or "numpy" (the reference executor, `graphc.backends.numpy`). Each gives an
`Executable`: called with the feeds of one step (in placeholder order, checked, C-contiguous)
and the step number, it returns the outputs and has written the variables' new values;
`run_many` does the same for stacked feeds. Each back end registers its own way of running each
op (the Numba back end its lowerings); the op library holds semantics only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

BACKENDS = ("numba", "numpy", "python")


class Executable(Protocol):
    def __call__(self, feeds: list[np.ndarray], step: int) -> list[np.ndarray]: ...

    def run_many(self, stacked: list[np.ndarray], n_steps: int, step0: int) -> list[np.ndarray]: ...
