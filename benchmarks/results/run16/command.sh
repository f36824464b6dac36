#!/usr/bin/env bash
# Run 16 (issue 11): the CNN and transformer workloads side by side after the convolution work
# (filter gradient several images per gemm, unfolded rows moved in vector registers, sums in
# vector lanes): graphc, its eager baseline, PyTorch eager and torch.compile from .venv, JAX from
# a venv of its own right after; each case its own process pinned to core 1, OpenBLAS variables
# unset for the command, round 1 with empty caches (cold) and a warm rerun.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run16
W="cnn_small cnn_b256 transformer_small"
WORKLOADS="$W" PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
WORKLOADS="$W" PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
