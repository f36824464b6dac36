#!/usr/bin/env bash
# Run 17 (issue 10): the program cache. graphc alone on every shared workload, one round (cold
# = empty caches, then a warm rerun in a new process), each case its own process pinned to core
# 1, OpenBLAS variables unset for the command; then compile_scaling.py with JAX beside it.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run17
PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc" bash benchmarks/run_all.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers 2 8 32 128 --chain 10000 --lstm 64 --peers graphc jax --peer-python jax=/tmp/peers/bin/python \
  --json $OUT/compile_scaling.jsonl
