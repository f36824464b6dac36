#!/usr/bin/env bash
# Run 14 (issues 10 and 11): every shared workload side by side after kernel_ir, one round:
# graphc, its eager baseline, PyTorch eager and torch.compile from .venv, JAX from a venv of its
# own right after; each case its own process pinned to core 1, OpenBLAS variables unset for the
# command, round 1 with empty caches (cold) and a warm rerun. Then the 10,000-layer chain and the
# LSTM compile cases.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run14
PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers 2 128 --chain 10000 --lstm 64 --peers graphc --json $OUT/compile_scaling.jsonl
