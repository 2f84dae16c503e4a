"""``keras-hdl export``: trained models as a TensorFlow Serving model base and TFLite files (a thin parser).

The work is done by :func:`keras_hdl.export.savedmodel.export_savedmodels`.
"""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.errors import InputError


@click.command("export")
@click.option(
    "--savedmodel",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output model base: interpolator/N/, phase/N/, twin/N/ and models.config.",
)
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="A training run folder (uses its models/).")
@click.option(
    "--model", "model_dir", type=click.Path(path_type=Path), help="A models folder. Default: the shipped weights."
)
@click.option("--tflite", is_flag=True, help="Also write float32 and float16 .tflite files into tflite/N/.")
@click.option("--version", "version", type=int, default=1, show_default=True, help="TF Serving model version N.")
@click.option(
    "--serving-root",
    default="/models",
    show_default=True,
    help="Where the model base lies for the server (the base paths written in models.config).",
)
def command(
    out_dir: Path, run_dir: Path | None, model_dir: Path | None, tflite: bool, version: int, serving_root: str
) -> None:
    """Export the interpolator, the phase generator and the whole twin pipeline for TensorFlow Serving.

    \b
    Writes OUT/interpolator/N/, OUT/phase/N/ and OUT/twin/N/ (SavedModels with a
    `serving_default` signature of named inputs and outputs and a dynamic batch axis, plus a
    `model_info` signature), and OUT/models.config for `tensorflow_model_server
    --model_config_file`. Serve it with the stock container as in docs/deployment.md and
    use it with `keras-hdl synthesize --server URL`.
    """
    from keras_hdl.export.savedmodel import export_savedmodels, folder_bytes
    from keras_hdl.synthesis.networks import resolve_models_folder

    models_dir = resolve_models_folder(model_dir, run_dir)
    if not models_dir.is_dir():
        raise InputError(f"{models_dir}: no such models folder")
    written = export_savedmodels(models_dir, out_dir, version, tflite=tflite, serving_root=serving_root)
    for name, path in written.items():
        size = path.stat().st_size if path.is_file() else folder_bytes(path)
        click.echo(f"{name:<14}{path}  ({size / 1e6:.2f} MB)")
