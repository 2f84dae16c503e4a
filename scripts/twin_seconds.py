"""Seconds per full 256² twin of the phantom's mid slice at K = 6 (shipped cpu weights), four twins after one warm-up.

``python scripts/twin_seconds.py auto`` times ``synthesize``'s default back end (``keras``, ``xla``, ``tflite``
name one); ``whole`` times the Keras fp32 path as it was before #19 (the whole interpolator once per dropped
frame). To compare with an older release, run this file from a checkout of it (``git worktree add``) with
``PYTHONPATH`` pointing there, alternating processes with the current one (docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import sys
import time

from keras_hdl.runtime import tune_allocator

tune_allocator()

from keras_hdl.benchmarks.interpolation import FRAMES, K, benchmark_slice  # noqa: E402
from keras_hdl.synthesis.networks import load_local_models, load_local_networks, resolve_models_folder  # noqa: E402
from keras_hdl.synthesis.pipeline import plan_twin, synthesize_twin  # noqa: E402


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "auto"
    _, low_rate = benchmark_slice()
    folder = resolve_models_folder(None)
    if mode == "whole":
        from keras_hdl.interpolation.network import NetworkInterpolator

        models = load_local_models(folder, backend="keras")
        whole = NetworkInterpolator.from_model(load_local_networks(folder)[1]["interpolator"])
        models = dataclasses.replace(models, interpolator=whole)
    else:
        models = load_local_models(folder, backend=mode)
    synthesize_twin(low_rate, K, models, frames=FRAMES)
    seconds = []
    for _ in range(4):
        start = time.perf_counter()
        synthesize_twin(low_rate, K, models, frames=FRAMES)
        seconds.append(time.perf_counter() - start)
    plan = plan_twin(low_rate, K, models, frames=FRAMES)
    start = time.perf_counter()
    for _ in plan.frames_in_order():
        pass
    assembly = time.perf_counter() - start
    print(f"{mode} ({models.backend}): twin {' '.join(f'{s:.3f}' for s in seconds)} s; assembly {assembly:.3f} s")


if __name__ == "__main__":
    main()
