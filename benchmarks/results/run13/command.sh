#!/usr/bin/env bash
# Run 13 (issues 10 and 11): kernels and the driver translated to LLVM IR by graphc (kernel_ir).
# The MLP compile scaling beside JAX jit, then five shared workloads through graphc (cold =
# empty caches, warm = a new process against the caches just filled, step times), each case its
# own process pinned to core 1, OpenBLAS variables unset for the command.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run13
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
: > $OUT/compile_scaling.jsonl
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 .venv/bin/python benchmarks/compile_scaling.py \
  --layers 2 32 128 --chain --lstm --peers graphc jax --peer-python jax=/tmp/peers/bin/python \
  --json $OUT/compile_scaling.jsonl
WORKLOADS="mlp_small mlp_mnist deep_narrow cnn_small transformer_small" PY=.venv/bin/python ROUNDS=1 \
  OUTDIR=$OUT/main PEERS="graphc" bash benchmarks/run_all.sh
