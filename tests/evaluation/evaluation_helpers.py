"""Helpers of the evaluation tests (a uniquely named module: conftest.py names clash across test folders)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from tiny_dataset import TINY_PHANTOM

VARIANTS = ("hdl", "vanilla", "gan")
EVALUATED_K = "1,3"


def phantom_spacing(phantom: Path) -> tuple[float, float]:
    from keras_hdl.phantom.dataset import load_manifest
    from keras_hdl.readers import read_series

    scan = load_manifest(phantom)["scans"][0]
    return tuple(float(s) for s in read_series(phantom / scan["files"][0]).pixel_spacing)


def save_untrained_run(folder: Path, variant: str, spacing: tuple[float, float], preset_name: str = "tiny") -> Path:
    """A run folder holding untrained, seeded networks of ``variant`` (gan: interpolator only) in models/."""
    import keras

    from keras_hdl.config import build_from_config, load_preset
    from keras_hdl.model_store import ModelInfo, save_models

    preset = load_preset(preset_name)
    keras.utils.set_random_seed(0)
    vanilla = variant == "vanilla"
    networks = {
        "interpolator": build_from_config(preset.interpolation.vanilla_model if vanilla else preset.interpolation.model)
    }
    if variant != "gan":
        networks["phase"] = build_from_config(preset.phase.vanilla_model if vanilla else preset.phase.model)
    info = ModelInfo(
        preset=preset_name,
        crop_size=preset.interpolation.training.crop_size,
        pixel_spacing_mm=spacing,
        frames=TINY_PHANTOM["frames"],
        command=f"untrained {variant} networks (test fixture)",
        variant=variant,
    )
    save_models(folder / "models", info, **networks)
    return folder


def evaluate_args(phantom: Path, runs: dict[str, Path], out_dir: Path) -> list[str]:
    args = ["evaluate", "--preset", "tiny", "--data", phantom, "--k", EVALUATED_K, "--out", out_dir]
    for folder in runs.values():
        args += ["--runs", folder]
    return [str(arg) for arg in args]


def invoke(args: list[str]):
    from keras_hdl.cli import main

    return CliRunner().invoke(main, args)
