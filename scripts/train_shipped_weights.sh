#!/usr/bin/env bash
# Retrain the shipped `cpu` weights (keras_hdl/weights/) on the built-in phantom, as they were made:
# each module on its own core, in parallel (about 90 min on 2 cores), then one models folder of both.
#
#   scripts/train_shipped_weights.sh [RUNS_DIR]        (default: runs/shipped; logs beside the run folders)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-runs/shipped}"
keras_hdl="$repo/.venv/bin/keras-hdl"
mkdir -p "$runs"
taskset -c 0 "$keras_hdl" train --module interpolator --preset cpu --seed 0 --out "$runs/interpolator" \
    > "$runs/interpolator.log" 2>&1 &
taskset -c 1 "$keras_hdl" train --module phase --preset cpu --seed 0 --out "$runs/phase" > "$runs/phase.log" 2>&1 &
wait
"$repo/.venv/bin/python" -c "
import sys
from keras_hdl.model_store import combine_models
combine_models({'interpolator': sys.argv[1], 'phase': sys.argv[2]}, sys.argv[3])
" "$runs/interpolator/models" "$runs/phase/models" "$runs/models"
echo "models folder: $runs/models (copy its files into keras_hdl/weights/ to ship them)"
