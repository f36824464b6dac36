#!/usr/bin/env bash
# Run 19 (issue 11): the CNN and transformer workloads side by side after unfolded rows became
# copy_run (one vector load and store per row) and padded convolutions' columns were written
# out; graphc, its eager baseline, PyTorch eager and torch.compile from .venv, JAX from a venv
# of its own right after; each case its own process pinned to core 1, OpenBLAS variables unset
# for the command. Then benchmarks/padded_conv.py (not a shared workload), three times.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run19
W="cnn_small cnn_b256 transformer_small"
WORKLOADS="$W" PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
WORKLOADS="$W" PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
for _ in 1 2 3; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 1 .venv/bin/python benchmarks/padded_conv.py
done > $OUT/padded_conv.jsonl
