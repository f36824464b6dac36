#!/bin/bash
# cold (empty caches) and warm (new process, caches filled) build + first call, and the step
# median, for every shared workload: graphc, JAX jit, torch.compile, one pinned core each.
export GRAPHC_PEER_BENCH=/work/shared/bench OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 JAX_PLATFORMS=cpu
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
OUT=/tmp/cold_all; mkdir -p $OUT; : > $OUT/results.jsonl; : > $OUT/cold.jsonl
for w in mlp_small mlp_mnist deep_narrow ln_gelu big_matmul mlp_mnist_b4096; do
  for pp in "graphc /work/main/.venv/bin/python" "jax /tmp/peers/bin/python" "torch_compile /work/main/.venv/bin/python"; do
    set -- $pp; p=$1; py=$2
    c=$(mktemp -d)
    RUN="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE GRAPHC_CACHE_DIR=$c/g NUMBA_CACHE_DIR=$c/n TORCHINDUCTOR_CACHE_DIR=$c/i taskset -c 1 timeout 1200 $py /work/main/benchmarks/run.py"
    $RUN --workload $w --peer $p --threads 1 --json $OUT/results.jsonl > /dev/null 2> $OUT/$w.$p.log
    $RUN --workload $w --peer $p --threads 1 --cold-only --json $OUT/cold.jsonl > /dev/null 2>> $OUT/$w.$p.log
    rm -rf $c
    echo "$w $p done"
  done
done
echo finished
