"""Seconds per train step of a preset's networks on the default graph and XLA-compiled, in one process.

``python scripts/train_step_xla.py paper 4 interpolator 2``: preset, batch (``-``: the benchmark's), modules
(``interpolator``, ``pix2pix``), timed steps per mode after a first step that traces (and compiles). The train
steps, data and seeds are the training benchmark's (``keras_hdl.benchmarks.training.train_steps``); XLA is
``jit_compile`` on the trainer, which ``keras-hdl train`` does not use (docs/benchmarks.md says why).
"""

from __future__ import annotations

import sys
import time

from keras_hdl.runtime import tune_allocator

tune_allocator()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_hdl.benchmarks.training import train_steps  # noqa: E402
from keras_hdl.config import build_from_config, load_preset  # noqa: E402


def main() -> None:
    preset = load_preset(sys.argv[1] if len(sys.argv) > 1 else "cpu")
    batch = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    modules = sys.argv[3].split(",") if len(sys.argv) > 3 else ["interpolator", "pix2pix"]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        networks = {
            "interpolator": build_from_config(preset.interpolation.model),
            "phase generator": build_from_config(preset.phase.model),
        }
        for module, (trainer, (inputs, targets), size, module_batch) in train_steps(preset, networks, batch).items():
            if module not in modules:
                continue
            trainer.jit_compile = jit_compile
            trainer.make_train_function(force=True)
            started = time.perf_counter()
            trainer.train_on_batch(inputs, targets)
            first = time.perf_counter() - started
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                trainer.train_on_batch(inputs, targets)
                seconds.append(time.perf_counter() - started)
            step = float(np.median(seconds))
            print(
                f"{preset.name} {module} {'XLA' if jit_compile else 'default graph'}, batch {module_batch} @{size}px: "
                f"first step {first:.1f} s, then median {step:.3f} s/step = {module_batch / step:.4f} samples/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
