#!/usr/bin/env bash
# Run 10 (issues 12 and 10): kernels call NumPy's OpenBLAS through the table (was SciPy's through
# Numba), a loop's accumulated products moved out of it, blocked transposes. The six workloads
# of run 5 and lstm_small against PyTorch eager, and lstm_small against torch.compile and JAX
# (lax.scan) too; 3 rounds, each case its own process pinned to core 1, round 1 with empty
# compile caches.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run10
PY=.venv/bin/python ROUNDS=3 OUTDIR=$OUT/main PEERS="graphc torch" \
  WORKLOADS="mlp_small mlp_mnist deep_narrow ln_gelu big_matmul mlp_mnist_b4096 lstm_small" bash benchmarks/run_all.sh
PY=.venv/bin/python ROUNDS=3 OUTDIR=$OUT/lstm WORKLOADS="lstm_small" PEERS="torch_compile" bash benchmarks/run_all.sh
PY=/tmp/peers/bin/python ROUNDS=3 OUTDIR=$OUT/jax WORKLOADS="lstm_small" PEERS="jax" bash benchmarks/run_all.sh
# The same graphc workloads at 743d696 (before this run's changes: gemm through Numba from SciPy's
# OpenBLAS), right after, from a worktree of that commit (`git worktree add /tmp/before 743d696`;
# its `graphc/passes` a symlink to its `passes/`, which the editable install maps in the
# checkout), run by a Python whose editable finder is dropped so that `import graphc` is the
# worktree's (`before_run.py` below).
cat > /tmp/before_run.py <<'PY'
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower() and "editable" not in type(f).__module__.lower()]
sys.path.insert(0, "/tmp/before")
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
PY
printf '#!/bin/sh\nif [ "$1" = "-c" ]; then exec %s/.venv/bin/python "$@"; fi\nexec %s/.venv/bin/python /tmp/before_run.py "$@"\n' "$PWD" "$PWD" > /tmp/before_py
chmod +x /tmp/before_py
PY=/tmp/before_py ROUNDS=3 OUTDIR=$PWD/$OUT/before PEERS="graphc" GRAPHC_PEER_BENCH=$PWD/../shared/bench \
  WORKLOADS="mlp_small mlp_mnist deep_narrow ln_gelu big_matmul mlp_mnist_b4096 lstm_small" bash /tmp/before/benchmarks/run_all.sh
