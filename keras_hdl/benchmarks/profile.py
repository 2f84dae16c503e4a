"""Where a preset's training step spends its CPU time: TensorFlow's profiler, summed per op type.

Run ``python -m keras_hdl.benchmarks.profile --preset cpu [--module interpolator|pix2pix] [--precision bf16] [--steps 3]
[--json]``.
The train step of :func:`keras_hdl.benchmarks.training.train_steps` (the preset's trainer, random data of its
crop size) runs traced and warmed up, then ``--steps`` steps under ``tf.profiler``; TensorFlow's
``framework_op_stats`` tool turns the trace into per-op self times, summed here per op type (oneDNN's
``_Mkl…`` kernels keep their names). Rows: milliseconds of thread time per step of each op type, against
the step's busy thread time (ratio = share); the last rows are the other op types, the busy total, the
threads' idle time, the process's CPU time and the step's wall time. Not a speed figure to compare across
runs (the profiler itself costs time): it says which kinds of op to make faster. Not part of
``keras-hdl benchmark``'s default items.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping

from keras_hdl.benchmarks import Row, emit, item_parser, progress, start_item
from keras_hdl.errors import InputError

MODULES = ("interpolator", "pix2pix")
TOP_OP_TYPES = 12
"""Op types listed by name; the others are summed into one row."""
IDLE = "IDLE"
"""The profiler's name for the time the step's threads wait."""


def thread_time_per_type(op_stats: Iterable[Mapping]) -> dict[str, float]:
    """{op type: summed self time, µs} from ``framework_op_stats`` rows (dicts with "type", "total_self_time")."""
    totals: dict[str, float] = collections.defaultdict(float)
    for op in op_stats:
        totals[op["type"]] += float(op["total_self_time"])
    return dict(totals)


def op_type_rows(label: str, per_type_us: Mapping[str, float], steps: int, wall_s: float, cpu_s: float) -> list[Row]:
    """Rows of :func:`thread_time_per_type`'s totals over ``steps`` steps (module docstring), ms per step."""
    busy = {name: us / steps / 1e3 for name, us in per_type_us.items() if name != IDLE}
    total = sum(busy.values())

    def share(name: str, milliseconds: float) -> Row:
        return Row(f"{label}: {name}", milliseconds, "ms/step", total, "busy thread time per step")

    ranked = sorted(busy.items(), key=lambda item: -item[1])
    rows = [share(name, ms) for name, ms in ranked[:TOP_OP_TYPES]]
    rest = ranked[TOP_OP_TYPES:]
    if rest:
        rows.append(share(f"{len(rest)} other op types", sum(ms for _, ms in rest)))
    return [
        *rows,
        Row(f"{label}: busy thread time", total, "ms/step"),
        share("idle thread time", per_type_us.get(IDLE, 0.0) / steps / 1e3),
        share("process CPU time under the profiler", cpu_s / steps * 1e3),
        Row(f"{label}: wall time under the profiler", wall_s / steps * 1e3, "ms/step"),
    ]


def profiled_op_stats(step, steps: int) -> tuple[list[dict], float, float]:
    """(``framework_op_stats`` rows of ``steps`` calls of ``step()``, wall and process CPU seconds of the calls)."""
    import tensorflow as tf

    try:
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as profiler_plugin
    except ImportError as error:  # a TensorFlow build without the profiler's converter
        raise InputError(
            f"this TensorFlow cannot convert profiles ({error}); per-op profiles need TensorFlow 2.21+"
        ) from error
    with tempfile.TemporaryDirectory(prefix="keras-hdl-profile-") as folder:
        tf.profiler.experimental.start(folder)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(folder, "plugins", "profile", "*", "*.xplane.pb"))
        data, converted = profiler_plugin.xspace_to_tools_data(traces, "framework_op_stats", {})
    if not converted:
        raise InputError("TensorFlow's profiler wrote no per-op statistics for the step")
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    rows = [
        dict(zip(columns, [cell["v"] if cell else None for cell in row["c"]], strict=True)) for row in table["rows"]
    ]
    return rows, wall, cpu


def run(
    quick: bool, preset_name: str = "cpu", modules: tuple[str, ...] = MODULES, steps: int = 3, precision: str = "fp32"
) -> list[Row]:
    """Rows per module (module docstring); ``precision``: fp32, or bf16 (Keras' mixed_bfloat16 policy)."""
    import keras

    from keras_hdl.benchmarks.training import train_steps
    from keras_hdl.config import build_from_config, load_preset
    from keras_hdl.precision import DTYPE_POLICIES, dtype_policy

    preset = load_preset(preset_name)
    keras.utils.set_random_seed(0)
    with dtype_policy(DTYPE_POLICIES[precision]):
        networks = {
            "interpolator": build_from_config(preset.interpolation.model),
            "phase generator": build_from_config(preset.phase.model),
        }
        module_steps = train_steps(preset, networks, None)
        rows = []
        for module, (trainer, (inputs, targets), size, batch) in module_steps.items():
            if module not in modules:
                continue
            progress(f"profile {preset.name} {module} {precision}: batch {batch} @{size}px, {steps} step(s)")
            step = lambda trainer=trainer, i=inputs, t=targets: trainer.train_on_batch(i, t)  # noqa: E731
            for _ in range(1 if quick else 3):  # trace and warm up
                step()
            op_stats, wall, cpu = profiled_op_stats(step, steps)
            label = f"profile {preset.name} {module}" + (f" {precision}" if precision != "fp32" else "")
            rows += op_type_rows(label, thread_time_per_type(op_stats), steps, wall, cpu)
    return rows


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "one warm-up step")
    parser.add_argument("--preset", default="cpu", help="preset name or YAML path (default: cpu)")
    parser.add_argument("--module", choices=MODULES, action="append", help="repeatable (default: both)")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (default: 3)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args()
    emit(run(args.quick, args.preset, tuple(args.module or MODULES), args.steps, args.precision), args.json, started)


if __name__ == "__main__":
    main()
