#!/usr/bin/env bash
# GPU overlap check alone (see bench_overlap.py). Installs carried wheels from .whl/ into /tmp/site.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 -c "import cv2; print('opencv', cv2.__version__, 'CascadeClassifier' in dir(cv2))"
fp=$(python3 -c "import cv2; print('single' if hasattr(cv2, 'CascadeClassifier') else 'off')")
timeout 240 python3 benchmarks/bench_overlap.py --model builtin:sd15-random --steps 30 --n 64 --batch 16 --workers 12 --face_policy $fp 2>&1 \
  | grep -v -e 'CLIP can only handle' -e 'requires torchvision' | tee ${OUT:-/tmp}/overlap_log.txt
