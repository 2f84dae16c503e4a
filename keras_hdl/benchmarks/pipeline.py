"""Pipeline benchmark: samples/s the tf.data pipeline produces vs samples/s a train step consumes.

Run ``python -m keras_hdl.benchmarks.pipeline [--preset cpu] [--data PATH] [--bf16] [--quick]``.
Production: augmented batches of the preset's crop and batch size pulled from
:func:`~keras_hdl.training.data.interpolation_dataset` / ``phase_dataset``, from cines in
memory and streamed from TFRecord shards (``keras-hdl prepare``), with nothing else
running in the process: the steady-state rate, and apart the set-up each epoch pays
before its first batch (building the epoch's dataset). Consumption: the preset's train step (the custom loop's
``distributed_step``) on one pipeline batch, median of several steps after a traced
warm-up. The ratio production / consumption is the pipeline's margin (target ≥ 10×).
``--bf16`` adds the train steps under ``mixed_bfloat16`` with the fp32 step as baseline.
Default data: a 3-subject 128-px phantom generated into a temporary folder.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, start_item
from keras_hdl.config import Preset, load_preset

BENCHMARK_PHANTOM = {"subjects": 3, "slices": 3, "frames": 50, "size": 128, "seed": 0}


def production_rate(dataset, options, batches: int, repeats: int) -> float:
    """Steady-state samples per second of pulling ``batches`` batches from ``dataset`` (repeated).

    The warm-up first drains a shuffle buffer's worth of samples, so that streamed
    sources are timed on samples they read, not on a buffer filled before the clock ran.
    """
    iterator = iter(dataset.repeat())
    for _ in range(math.ceil(options.shuffle_buffer / options.batch_size)):
        next(iterator)

    def pull():
        for _ in range(batches):
            next(iterator)

    return batches * options.batch_size / median_seconds(pull, repeats=repeats, warmup=1)


def first_batch_seconds(make_dataset) -> float:
    """Seconds from building an epoch's dataset to its first batch (paid once per epoch)."""
    start = time.perf_counter()
    next(iter(make_dataset()))
    return time.perf_counter() - start


def step_seconds(module: str, preset: Preset, data, precision: str, steps: int) -> float:
    """Median seconds of the preset's ``module`` train step (as `keras-hdl train` runs it)."""
    import keras
    import tensorflow as tf

    from keras_hdl.precision import DTYPE_POLICIES, dtype_policy
    from keras_hdl.training.sources import background_noise
    from keras_hdl.training.steps import distributed_step
    from keras_hdl.training.tasks import TASKS

    task = TASKS[module]
    with dtype_policy(DTYPE_POLICIES[precision]):
        keras.utils.set_random_seed(0)
        mean, std = background_noise(data)
        run = task.module_run(preset, data, 0, 1, background={"mean": mean, "std": std})
        step = distributed_step(run.trainer, tf.distribute.get_strategy())
        batch = next(iter(run.make_dataset(0)))
        return median_seconds(lambda: step(batch)[task.loss_name].numpy(), repeats=steps)


def run(quick: bool, preset_name: str = "cpu", data_path: str | None = None, compare_bf16: bool = False) -> list[Row]:
    """Rows: production rates (memory, shards) with the fp32 consumption rate as baseline; bf16 steps."""
    from keras_hdl.phantom import PhantomConfig
    from keras_hdl.phantom.dataset import write_dataset
    from keras_hdl.training.sources import load_training_data, prepare_shards
    from keras_hdl.training.tasks import TASKS
    from keras_hdl.training.tasks.base import pipeline_options, samples_per_cine

    preset = load_preset(preset_name)
    crop = preset.interpolation.training.crop_size
    batches, repeats, steps = (10, 2, 3) if quick else (100, 3, 10)
    with tempfile.TemporaryDirectory(prefix="keras-hdl-bench-") as scratch:
        if data_path is None:
            data_path = Path(scratch) / "phantom"
            write_dataset(data_path, PhantomConfig(**BENCHMARK_PHANTOM))
        in_memory = load_training_data(data_path, crop)
        prepare_shards(data_path, Path(scratch) / "shards", crop)
        streamed = load_training_data(Path(scratch) / "shards", crop)

        rows = []
        for module, task in TASKS.items():
            training = task.training(preset)
            fp32 = step_seconds(module, preset, in_memory, "fp32", steps)
            consumed = training.batch_size / fp32
            label = f"{preset.name}: {module} train step, batch {training.batch_size} @{crop}px"
            for source_name, data in (("memory", in_memory), ("shards", streamed)):
                samples = samples_per_cine(data.train.num_cines, training.steps_per_epoch, training.batch_size)
                options = pipeline_options(training, samples)
                build = task.make_samples
                rate = production_rate(build(data.train, options, 0, 0), options, batches, repeats)
                setup = first_batch_seconds(lambda build=build, data=data, options=options: build(data.train, options))
                rows.append(
                    Row(
                        f"{module} pipeline, augmented, from {source_name}",
                        rate,
                        "samples/s",
                        baseline=consumed,
                        baseline_name=f"{label} (fp32) consumes",
                    )
                )
                rows.append(Row(f"{module} pipeline from {source_name}: epoch set-up", setup, "s"))
            rows.append(Row(f"{label}, fp32", fp32, "s"))
            if compare_bf16:
                bf16 = step_seconds(module, preset, in_memory, "bf16", steps)
                rows.append(Row(f"{label}, bf16", bf16, "s", baseline=fp32, baseline_name="the fp32 step above"))
    return rows


def main() -> None:
    parser = item_parser(__doc__, "fewer batches and steps")
    parser.add_argument("--preset", default="cpu", help="preset name or YAML path (default: cpu)")
    parser.add_argument("--data", default=None, help="phantom dataset or folder of scans (default: a small phantom)")
    parser.add_argument("--bf16", action="store_true", help="also time the train steps under mixed_bfloat16")
    args = parser.parse_args()
    started = start_item()
    emit(run(args.quick, args.preset, args.data, args.bf16), args.json, started)


if __name__ == "__main__":
    main()
