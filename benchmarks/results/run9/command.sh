#!/usr/bin/env bash
# Run 9 (issue 12): lstm_small (gc.scan: one loop node, its body compiled once) against PyTorch
# eager (oneDNN's fused LSTM), torch.compile and JAX (lax.scan), 3 rounds, each case its own
# process pinned to core 1, round 1 with empty compile caches; then the cold compile of the same
# step over 64 and 1024 steps (benchmarks/compile_scaling.py, empty caches, then warm).
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run9
PY=.venv/bin/python ROUNDS=3 OUTDIR=$OUT/main WORKLOADS="lstm_small" PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
PY=/tmp/peers/bin/python ROUNDS=3 OUTDIR=$OUT/jax WORKLOADS="lstm_small" PEERS="jax" bash benchmarks/run_all.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers --chain --peers graphc --lstm 64 1024 --json $OUT/compile_scaling.jsonl
