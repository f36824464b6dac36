#!/usr/bin/env bash
# Run 11 (issues 10 and 11): warm start without Numba's start-up (machine code kept by graphc).
# Every shared workload through graphc, one round (cold = empty caches, warm = a new process
# against the caches just filled), each case its own process pinned to core 1; then the MLP
# compile scaling beside JAX jit.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run11
PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc" bash benchmarks/run_all.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers 2 8 32 128 --peers graphc jax --peer-python jax=/tmp/peers/bin/python --json $OUT/compile_scaling.jsonl
# The chain cases, rerun after 6ab1f0e (products_out_of_loops skipping graphs without loops; commit 77a7398):
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --chain 1000 10000 --peers graphc --json $OUT/compile_scaling.jsonl  # (it runs the lstm cases too: --lstm defaults)
# compile_scaling.jsonl holds both invocations in order: the first's mlp (graphc, JAX) and lstm
# cases (the lstm cold figures, 9.8-10.0 s, were taken while a helper compiled on the other core),
# then the second's mlp, chain and lstm cases (graphc only; its defaults ran mlp and lstm again).
