#!/usr/bin/env bash
# Run 7 (issue 11): every shared workload, one round, each case its own process pinned to core 1
# with empty compile caches (cold) and then against the filled caches (warm). graphc, its eager
# baseline, PyTorch eager and torch.compile from the project's venv (torch 2.13.0 installed by
# hand); JAX 0.10.2 from a venv of its own, in the same sweep right after.
set -u
cd "$(dirname "$0")/../../.."
OUT=benchmarks/results/run7
PY=.venv/bin/python ROUNDS=1 OUTDIR=$OUT/main PEERS="graphc graphc_eager torch torch_compile" bash benchmarks/run_all.sh
PY=/tmp/peers/bin/python ROUNDS=1 OUTDIR=$OUT/jax PEERS="jax" bash benchmarks/run_all.sh
