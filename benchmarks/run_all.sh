#!/usr/bin/env bash
# Every workload x runner, each case in its own process, as ../shared/bench/run_all.sh does:
#
#   bash benchmarks/run_all.sh                 # threads=1, 3 rounds, every installed peer
#   WORKLOADS="mlp_small" PEERS="graphc jax" ROUNDS=1 bash benchmarks/run_all.sh
#
# threads=1 pins each process to one CPU (taskset -c $PIN_CPU). This machine sets
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which hold OpenBLAS to AVX2 kernels; they are
# unset here, for this command alone and for every peer alike (never in tests or CI).
# Round 1 starts every process with empty compile caches (cold_s) and then reruns build +
# first call against the caches just filled (coldcache-1thread.jsonl: the warm compile).
# Results: benchmarks/results/results-1thread.jsonl; summarise with benchmarks/report.py.
# GRAPHC_PEER_BENCH names the shared bench folder when this checkout is not beside ../shared.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PY:-python}"
WORKLOADS="${WORKLOADS:-mlp_small mlp_mnist deep_narrow ln_gelu big_matmul mlp_mnist_b4096 cnn_small cnn_b256 transformer_small lstm_small}"
PEERS="${PEERS:-graphc graphc_eager numpy torch torch_compile jax pytensor_c pytensor_numba autograd blas}"
ROUNDS="${ROUNDS:-3}"
TIMEOUT="${TIMEOUT:-1800}"
PIN_CPU="${PIN_CPU:-1}"
OUTDIR="${OUTDIR:-$HERE/results}"
mkdir -p "$OUTDIR/logs"
T=1
out="$OUTDIR/results-${T}thread.jsonl"
cold="$OUTDIR/coldcache-${T}thread.jsonl"
: > "$out"; : > "$cold"
export OMP_NUM_THREADS=$T MKL_NUM_THREADS=$T OPENBLAS_NUM_THREADS=$T NUMBA_NUM_THREADS=$T JAX_PLATFORMS=cpu
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
RUN="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c $PIN_CPU timeout $TIMEOUT $PY $HERE/run.py"
"$PY" -c 'import threadpoolctl, numpy; print("BLAS:", [(i["internal_api"], i["architecture"]) for i in threadpoolctl.threadpool_info()])' \
  > "$OUTDIR/blas.txt" 2>&1 || true
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" -c 'import threadpoolctl, numpy; print("BLAS with the variables unset:", [(i["internal_api"], i["architecture"]) for i in threadpoolctl.threadpool_info()])' \
  >> "$OUTDIR/blas.txt" 2>&1 || true
warm="$(mktemp -d)"
for R in $(seq 1 "$ROUNDS"); do
  if [ $((R % 2)) = 1 ]; then order="$PEERS"; else order="$(echo $PEERS | tr ' ' '\n' | tac | tr '\n' ' ')"; fi
  for w in $WORKLOADS; do
    for p in $order; do
      if [ "$p" = blas ] && [ "$w" != big_matmul ]; then continue; fi
      if [ "$R" = 1 ]; then cache="$(mktemp -d)"; else cache="$warm"; fi
      export GRAPHC_CACHE_DIR="$cache/graphc" NUMBA_CACHE_DIR="$cache/numba"
      export TORCHINDUCTOR_CACHE_DIR="$cache/inductor" PYTENSOR_FLAGS="base_compiledir=$cache/pytensor"
      log="$OUTDIR/logs/$w.$p.r$R.log"
      n0=$(wc -l < "$out")
      $RUN --workload "$w" --peer "$p" --threads $T --round "$R" --json "$out" > /dev/null 2> "$log"
      if [ "$R" = 1 ]; then
        case "$p" in graphc|graphc_nofuse|graphc_noopt|torch_compile|jax|pytensor_c|pytensor_numba)
          $RUN --workload "$w" --peer "$p" --threads $T --cold-only --json "$cold" > /dev/null 2>> "$log" ;;
        esac
        rm -rf "$cache"
      fi
      if [ "$(wc -l < "$out")" = "$n0" ]; then echo "r$R $w $p: no result, see $log"; continue; fi
      tail -n 1 "$out" | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); print("r%d %-16s %-14s median %9.3f ms  cold %6.2f s  %s" % (r.get("round",1), r["workload"], r["peer"], 1e3*r.get("median_s", float("nan")), r.get("cold_s", float("nan")), r.get("error", "")[:120]), flush=True)'
    done
  done
done
rm -rf "$warm"
