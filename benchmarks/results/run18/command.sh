#!/usr/bin/env bash
# Run 18 (issue 11): the CNN and transformer workloads side by side after the transposed
# convolution's fold became one vector add per row (add_run) and take/scatter_add check their
# indices once: graphc, its eager baseline, PyTorch eager and torch.compile from .venv, JAX from
# a venv of its own right after; each case its own process pinned to core 1, OpenBLAS variables
# unset for the command, round 1 with empty caches (cold) and a warm rerun.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run18
W="cnn_small cnn_b256 transformer_small"
WORKLOADS="$W" PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
WORKLOADS="$W" PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
