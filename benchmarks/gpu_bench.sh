#!/usr/bin/env bash
# One prepared GPU benchmark of the generation stage (run from anywhere; it cds to the repo root).
#   builtin:sd15-random (SD 1.5 architecture, random weights: no download), 512², 30 steps, CFG 7.5, fp16,
#   eager batch 1 (the findings' loop) vs 8 vs 16, then torch.compile at batch 16; images/s, share of the
#   physical ceiling (~43 TFLOP per image; --peak-tflops 800 = H100/H200 dense bf16 measured), and how far a
#   unit's image moves between batch 1 and batch 8/16. About 3-5 minutes on one H100, warm-ups excluded.
# Needs python3 with torch (CUDA) and transformers; diffusers (and anything else missing) can come as wheels
# in .whl/ at the repo root: they are installed into /tmp/site when diffusers does not import.
# Issue 16's option sweep instead (every speed option in one run, a table, a profiler breakdown; see
# benchmarks/gpu_throughput.py): bash benchmarks/gpu_bench.sh throughput [its options, e.g. --time-limit 420]
# CPU smoke test (tiny settings):
#   FACESYNTH_BENCH_MODEL=builtin:tiny FACESYNTH_BENCH_STEPS=2 FACESYNTH_BENCH_BATCHES=1,4 \
#   FACESYNTH_BENCH_COMPILE_BATCHES=4 FACESYNTH_BENCH_N=8 PY=.venv/bin/python benchmarks/gpu_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
MODEL=${FACESYNTH_BENCH_MODEL:-builtin:sd15-random}
SIZE=${FACESYNTH_BENCH_SIZE:-512}
STEPS=${FACESYNTH_BENCH_STEPS:-30}
BATCHES=${FACESYNTH_BENCH_BATCHES:-1,8,16}
COMPILE_BATCHES=${FACESYNTH_BENCH_COMPILE_BATCHES:-16}
N=${FACESYNTH_BENCH_N:-32}            # images per batched run
N_LOOP=${FACESYNTH_BENCH_N_LOOP:-4}   # images in the batch-1 loop
DTYPE=${FACESYNTH_BENCH_DTYPE:-auto}  # auto = float16 on CUDA, float32 on CPU
LIMIT=${FACESYNTH_BENCH_TIMEOUT:-420} # seconds for the python part

if ! "$PY" -c 'import diffusers' 2>/dev/null && compgen -G '.whl/*.whl' >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/facesynth-inductor}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || echo "nvidia-smi: not found"
"$PY" - <<'EOF'
import torch, diffusers, transformers
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) diffusers {diffusers.__version__} transformers {transformers.__version__}")
print("GPU:", torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CPU run)")
EOF

start=$(date +%s)
if [ "${1:-}" = throughput ]; then
  shift
  rc=0; timeout "$LIMIT" "$PY" benchmarks/gpu_throughput.py --model "$MODEL" --size "$SIZE" --steps "$STEPS" "$@" || rc=$?
  echo "gpu_bench.sh throughput: exit $rc after $(( $(date +%s) - start ))s (python part; 124 = timed out, tables so far printed)"
  exit $rc
fi
timeout "$LIMIT" "$PY" benchmarks/bench_generate.py --model "$MODEL" --size "$SIZE" --steps "$STEPS" --guidance 7.5 \
  --dtype "$DTYPE" --batch "$BATCHES" --n "$N" --n-loop "$N_LOOP" --compile --compile-batch "$COMPILE_BATCHES"
echo "gpu_bench.sh: done in $(( $(date +%s) - start ))s (python part)"
