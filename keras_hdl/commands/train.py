"""`keras-hdl train`: a thin click parser over :func:`keras_hdl.training.train.train`."""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.config import preset_names
from keras_hdl.model_store import VARIANTS
from keras_hdl.precision import LEGACY_NAMES, TRAINING_PRECISIONS
from keras_hdl.training.options import DEFAULT_PRESET, MODULE_CHOICES, STRATEGIES


@click.command(name="train")
@click.option(
    "--module",
    type=click.Choice(MODULE_CHOICES),
    default=None,
    help="Which network(s) to train  [default: all, or the run's own with --resume].",
)
@click.option(
    "--preset",
    type=click.Choice(preset_names()),
    default=None,
    help=f"Model and training preset  [default: {DEFAULT_PRESET}, or the run's own with --resume].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A preset YAML file instead of --preset (every key is checked).",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Phantom dataset, folder of scans, or `keras-hdl prepare` shards  [default: built-in phantom].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/latest"),
    show_default=True,
    help="Run folder (config, checkpoints, metrics.csv, TensorBoard, models/).",
)
@click.option("--epochs", type=int, default=None, help="Epochs per module  [default: the preset's, or the run's own].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="auto",
    show_default=True,
    help="Distribution: auto (several local GPUs → mirrored), mirrored, or multiworker (from TF_CONFIG; "
    "see docs/training.md).",
)
@click.option(
    "--precision",
    type=click.Choice(TRAINING_PRECISIONS),
    default=None,
    help="Compute precision: fp32; bf16 on CPUs with bf16 units and recent GPUs; fp16 (with loss scaling) on GPUs  "
    "[default: fp32, or the run's own with --resume].",
)
@click.option(
    "--mixed-precision",
    type=click.Choice([*TRAINING_PRECISIONS[1:], *LEGACY_NAMES]),
    default=None,
    hidden=True,
    help="Deprecated spelling of --precision (off = fp32).",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the weights, sampling and noise  [default: 0, or the run's own]."
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default=None,
    help="hdl: the paper's networks; vanilla: the vanilla R2UNet interpolator / pix2pix without the composite; "
    "gan: the interpolator with a PatchGAN loss (evaluation baselines)  [default: hdl, or the run's own].",
)
def command(
    module, preset, config_file, data, out_dir, epochs, resume, strategy, precision, mixed_precision, seed, variant
) -> None:
    """Train the temporal interpolator and/or the phase synthesis model.

    With no arguments: trains both modules with the `cpu` preset on the built-in phantom
    (generated once into the cache folder) and leaves a complete run folder in runs/latest.
    """
    from keras_hdl.errors import InputError
    from keras_hdl.training.options import TrainOptions
    from keras_hdl.training.train import train

    if preset and config_file:
        raise InputError("give --preset or --config, not both")
    if mixed_precision is not None:
        if precision is not None:
            raise InputError("give --precision, not both it and --mixed-precision (its older spelling)")
        click.echo("note: --mixed-precision is deprecated; use --precision (fp32, bf16, fp16)", err=True)
        precision = mixed_precision
    result = train(
        TrainOptions(
            out_dir=out_dir,
            module=module,
            preset=str(config_file) if config_file else preset,
            data=data,
            epochs=epochs,
            resume=resume,
            strategy=strategy,
            precision=precision,
            seed=seed,
            variant=variant,
        )
    )
    click.echo(f"run folder: {out_dir}  (models in {out_dir / 'models'})")
    for name, figures in result.best.items():
        shown = ", ".join(f"{key} {value:.4g}" for key, value in figures.items())
        click.echo(f"best {name}: {shown}")
