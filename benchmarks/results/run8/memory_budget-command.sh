#!/bin/sh
# Run 8: training memory under a budget (docs/benchmarks.md), one pinned core, BLAS variables unset.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    NUMBA_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    taskset -c 1 .venv/bin/python benchmarks/memory_budget.py --layers 24 --width 512 --batch 512 --steps 7 \
    --peer-python jax=/tmp/peers/bin/python --json benchmarks/results/run8/memory_budget.jsonl
