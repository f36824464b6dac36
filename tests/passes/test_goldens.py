"""Golden printouts: one small program through the pipeline, the graph after every pass and the
pass's counters, exactly. A change in any pass's behaviour shows up here as a readable diff."""

from __future__ import annotations

import graphc as gc
from graphc.ir import Graph
from graphc.passes.pipeline import PIPELINE


def _program() -> Graph:
    x = gc.placeholder((4, 3), "float32", name="x")
    b = gc.placeholder((3,), "float32", name="b")
    unused = gc.placeholder((2,), "float32", name="unused")
    h = gc.tanh(x + b)
    centered = h - gc.mean(gc.tanh(x + b), axis=1, keepdims=True)
    y = gc.sum(centered, axis=1) * gc.exp(gc.constant(0.0, "float32"))
    return Graph([x, b, unused], [y])


GOLDEN: dict[str, tuple[dict[str, int], str]] = {}

GOLDEN['fold'] = ({'nodes_folded': 1}, """
graph (x:f32[4,3], b:f32[3], unused:f32[2]) {
  a:f32[4,3] = add x b                        # test_goldens.py:15
  c:f32[4,3] = tanh a                         # test_goldens.py:15
  d:f32[4,3] = add x b                        # test_goldens.py:16
  e:f32[4,3] = tanh d                         # test_goldens.py:16
  f:f32[4,1] = sum[axis=(1,), keepdims=True] e  # test_goldens.py:16
  g:f32[4,1] = divide f 3.0                   # test_goldens.py:16
  h:f32[4,3] = subtract c g                   # test_goldens.py:16
  i:f32[4] = sum[axis=(1,), keepdims=False] h  # test_goldens.py:17
  j:f32[4] = multiply i 1.0                   # test_goldens.py:17
  return (j,)
}
""")

GOLDEN['simplify'] = ({'x*1': 1}, """
graph (x:f32[4,3], b:f32[3], unused:f32[2]) {
  a:f32[4,3] = add x b                        # test_goldens.py:15
  c:f32[4,3] = tanh a                         # test_goldens.py:15
  d:f32[4,3] = add x b                        # test_goldens.py:16
  e:f32[4,3] = tanh d                         # test_goldens.py:16
  f:f32[4,1] = sum[axis=(1,), keepdims=True] e  # test_goldens.py:16
  g:f32[4,1] = divide f 3.0                   # test_goldens.py:16
  h:f32[4,3] = subtract c g                   # test_goldens.py:16
  i:f32[4] = sum[axis=(1,), keepdims=False] h  # test_goldens.py:17
  return (i,)
}
""")

GOLDEN['cse'] = ({'nodes_merged': 2}, """
graph (x:f32[4,3], b:f32[3], unused:f32[2]) {
  a:f32[4,3] = add x b                        # test_goldens.py:15
  c:f32[4,3] = tanh a                         # test_goldens.py:15
  d:f32[4,1] = sum[axis=(1,), keepdims=True] c  # test_goldens.py:16
  e:f32[4,1] = divide d 3.0                   # test_goldens.py:16
  f:f32[4,3] = subtract c e                   # test_goldens.py:16
  g:f32[4] = sum[axis=(1,), keepdims=False] f  # test_goldens.py:17
  return (g,)
}
""")

GOLDEN['dce'] = ({'inputs_dropped': 1}, """
graph (x:f32[4,3], b:f32[3]) {
  a:f32[4,3] = add x b                        # test_goldens.py:15
  c:f32[4,3] = tanh a                         # test_goldens.py:15
  d:f32[4,1] = sum[axis=(1,), keepdims=True] c  # test_goldens.py:16
  e:f32[4,1] = divide d 3.0                   # test_goldens.py:16
  f:f32[4,3] = subtract c e                   # test_goldens.py:16
  g:f32[4] = sum[axis=(1,), keepdims=False] f  # test_goldens.py:17
  return (g,)
}
""")

GOLDEN['fuse'] = ({'groups': 1, 'nodes_fused': 6, 'loops_before': 6, 'loops_after': 1}, """
graph (x:f32[4,3], b:f32[3]) {
  fused rows over [4,3] {
    a:f32[4,3] = add x b                      # test_goldens.py:15
    c:f32[4,3] = tanh a                       # test_goldens.py:15
    d:f32[4,1] = sum[axis=(1,), keepdims=True] c  # test_goldens.py:16
    e:f32[4,1] = divide d 3.0                 # test_goldens.py:16
    f:f32[4,3] = subtract c e                 # test_goldens.py:16
    g:f32[4] = sum[axis=(1,), keepdims=False] f  # test_goldens.py:17
  }
  return (g,)
}
""")


def test_every_pass_golden() -> None:
    graph = _program()
    for name, run in PIPELINE:
        result = run(graph)
        stats, text = GOLDEN[name]
        assert result.stats == stats, name
        assert str(result.graph).splitlines() == text.strip("\n").splitlines(), name
        graph = result.graph
