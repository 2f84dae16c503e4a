#!/usr/bin/env bash
# Install keras-hdl on a fresh NVIDIA GPU machine and run `keras-hdl benchmark --quick` there.
#
#   scripts/gpu_benchmark.sh [--dry-run] [OUT_DIR]      (OUT_DIR default: $OUT, else ./benchmark-gpu)
#
# Needs: an NVIDIA driver (nvidia-smi), Python 3.11 and access to the Python package index.
# Steps: a venv at $VENV (default $TMPDIR/keras-hdl-gpu-venv; reused if it already has keras-hdl), `pip install -e
# ".[gpu,tflite]"` (TensorFlow with its CUDA wheels), a check that TensorFlow sees the GPU, then the
# quick benchmark (cpu and paper presets, fp32 and bf16 on the GPU) into OUT_DIR/benchmark.json.
# Every GFLOP/s row's baseline is then the GPU's dense tensor-core peak (bf16 rows: BF16; fp32 rows:
# TF32, which TensorFlow uses for float32 convolutions and matmuls), looked up by the nvidia-smi name
# in keras_hdl/benchmarks/machine.py (NVIDIA datasheets). Budget: < 5 min on an H100 (install ~2-3 min).
# --dry-run: look the GPU up and print the commands without installing or running anything.
set -euo pipefail

dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
    dry_run=1
    shift
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${1:-${OUT:-benchmark-gpu}}"
venv="${VENV:-${TMPDIR:-/tmp}/keras-hdl-gpu-venv}"
python="$(command -v python3.11 || command -v python3)"

run() {
    echo "+ $*" >&2
    if [[ "$dry_run" == 0 ]]; then "$@"; fi
}

gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)"
if [[ -z "$gpu_name" ]]; then
    if [[ "$dry_run" == 0 ]]; then
        echo "Error: no NVIDIA GPU found (nvidia-smi lists none); run this on a GPU machine" >&2
        exit 2
    fi
    gpu_name="${GPU_NAME:-NVIDIA H100 80GB HBM3}"
    echo "(dry run without a GPU: assuming '$gpu_name')" >&2
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "Error: keras-hdl needs Python 3.11; $python is $("$python" --version 2>&1)" >&2
    exit 2
fi

# The peak the GFLOP/s rows are measured against (the table needs only the package source).
PYTHONPATH="$repo" "$python" -m keras_hdl.benchmarks.machine --gpu-name "$gpu_name"

start=$SECONDS
if [[ ! -x "$venv/bin/keras-hdl" ]]; then
    run "$python" -m venv "$venv"
    run "$venv/bin/pip" install --quiet --upgrade pip
    run "$venv/bin/pip" install --quiet -e "$repo[gpu,tflite]"
fi
echo "install: $((SECONDS - start)) s" >&2
run "$venv/bin/python" -c 'import sys, tensorflow as tf; gpus = tf.config.list_physical_devices("GPU"); print("TensorFlow sees", gpus); sys.exit(0 if gpus else "Error: TensorFlow sees no GPU (CUDA wheels missing?)")'
run "$venv/bin/keras-hdl" benchmark --quick --preset cpu --preset paper --out "$out_dir"
echo "total: $((SECONDS - start)) s; report: $out_dir/benchmark.json" >&2
