"""`keras-hdl prepare`: a thin click parser over :func:`keras_hdl.training.sources.prepare_shards`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="prepare")
@click.argument("data", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--crop-size", type=int, default=None, help="Side of the LV crop, pixels  [default: the preset's].")
@click.option(
    "--preset",
    default=None,
    help="Take the crop size from this preset (tiny, cpu, paper or a YAML path)  [default: cpu].",
)
@click.option("--cines-per-shard", type=int, default=64, show_default=True, help="Slice cines per TFRecord file.")
def command(data, out_dir, crop_size, preset, cines_per_shard) -> None:
    """Write TFRecord shards of DATA for `keras-hdl train --data OUT_DIR`.

    DATA is a phantom dataset (`keras-hdl phantom`) or a folder of scans with masks
    (series.dcm + seg.dcm, classic DICOM folders or series.npz; train/ and val/
    sub-folders, or a stable 85/15 split by scan name). OUT_DIR gets train/ and val/
    shards of LV-cropped, normalised slice cines and the background-noise fit.
    """
    from keras_hdl.config import load_preset
    from keras_hdl.errors import InputError
    from keras_hdl.training.sources import prepare_shards

    if crop_size is not None and preset is not None:
        raise InputError("give --crop-size or --preset, not both")
    if crop_size is None:
        crop_size = load_preset(preset or "cpu").interpolation.training.crop_size
    summary = prepare_shards(data, out_dir, crop_size, cines_per_shard)
    cines = summary["cines"]
    click.echo(
        f"wrote {cines['train']} training and {cines['val']} validation slice cines "
        f"({crop_size}-px crops) from {summary['source']} to {out_dir}"
    )
