#!/usr/bin/env bash
# Run 20 (issue 11): the CNN and transformer workloads side by side after max pooling's window
# argmax went into vector lanes (and float32 tanh became Cephes' 1.3-ulp split); graphc, its
# eager baseline, PyTorch eager and torch.compile from .venv, JAX from a venv of its own right
# after; each case its own process pinned to core 1, OpenBLAS variables unset for the command.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run20
W="cnn_small cnn_b256 transformer_small"
WORKLOADS="$W" PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
WORKLOADS="$W" PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
