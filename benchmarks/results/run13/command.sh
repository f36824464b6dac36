#!/usr/bin/env bash
# Run 13 (issues 10 and 11): kernels and driver translated to LLVM IR by graphc (kernel_ir),
# against the same commit with every kernel compiled by Numba (GRAPHC_KERNEL_COMPILER=numba),
# side by side: every shared workload (cold = empty caches, warm = a new process against the
# caches just filled, step times), each case its own process pinned to core 1; JAX beside
# them; then the MLP compile scaling.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run13
PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc" bash benchmarks/run_all.sh
PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh  # JAX in a venv of its own
GRAPHC_KERNEL_COMPILER=numba PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/numba PEERS="graphc" bash benchmarks/run_all.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers 2 8 32 128 --chain 10000 --lstm 64 --peers graphc jax --peer-python jax=/tmp/peers/bin/python \
  --json $OUT/compile_scaling.jsonl
