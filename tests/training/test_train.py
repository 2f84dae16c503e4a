"""`keras-hdl train`: the run folder, falling losses, and bad input refused before any folder is made."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

tf = pytest.importorskip("tensorflow")

from keras_hdl.config import load_preset  # noqa: E402
from keras_hdl.series import Series  # noqa: E402

PAPER_PSNR_OFFSET_DB = 20 * math.log10(255 / 2)  # peak 255 instead of the data range 2


def read_metrics(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def checkpoint_value(run_dir: Path, module: str, key: str):
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints" / module))
    return reader.get_tensor(f"{key}/.ATTRIBUTES/VARIABLE_VALUE")


def scalar_tags(log_dir: Path) -> set[str]:
    tags = set()
    for events in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            tags |= {value.tag for value in event.summary.value}
    return tags


@pytest.mark.slow  # 73-89 s on 2 cores
def test_tiny_run_leaves_a_complete_run_folder(tiny_phantom, tmp_path, cli):
    from keras_hdl.model_store import load_models
    from keras_hdl.models import fit_background_noise
    from keras_hdl.training.data import slice_cines_from_series
    from keras_hdl.training.sources import load_series_splits

    run_dir = tmp_path / "run"
    result = cli("train", "--preset", "tiny", "--epochs", "1", "--data", tiny_phantom, "--out", run_dir)
    assert result.exit_code == 0, result.output
    assert "interpolator: epoch 1/1" in result.output and "phase: epoch 1/1" in result.output

    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == load_preset("tiny").as_dict()
    state = json.loads((run_dir / "run.json").read_text())
    assert state["completed_epochs"] == {"interpolator": 1, "phase": 1}
    assert (state["seed"], state["mixed_precision"], state["replicas"]) == (0, "off", 1)
    assert state["data_path"] == str(tiny_phantom.resolve())

    # the background Gaussian is the fit on the training split's cropped cines
    splits, _ = load_series_splits(tiny_phantom)
    train_cines = slice_cines_from_series(splits["train"], 32)
    mean, std = fit_background_noise(train_cines.phase, train_cines.magnitude)
    background = json.loads((run_dir / "background_noise.json").read_text())
    assert (background["mean"], background["std"]) == pytest.approx((mean, std), rel=1e-6)

    rows = read_metrics(run_dir)
    assert [(row["module"], row["epoch"]) for row in rows] == [("interpolator", "1"), ("phase", "1")]
    steps = load_preset("tiny").interpolation.training.steps_per_epoch
    for row in rows:
        psnr, paper = float(row["val_PSNR_dB"]), float(row["val_PSNR_paper_dB"])
        assert paper - psnr == pytest.approx(PAPER_PSNR_OFFSET_DB, abs=1e-3)
        assert 0 < float(row["val_MSE"]) < 4 and -1 <= float(row["val_SSIM"]) <= 1
    assert 0 <= float(rows[0]["val_DICE"]) <= 1 and float(rows[0]["train_loss"]) > 0
    assert float(rows[1]["train_generator_loss"]) > 0 and float(rows[1]["val_discriminator_loss"]) > 0

    for module in ("interpolator", "phase"):
        assert checkpoint_value(run_dir, module, "epoch") == 1
        assert checkpoint_value(run_dir, module, "optimizer/_iterations") == steps
        assert {"epoch/train_" + ("loss" if module == "interpolator" else "generator_loss"), "epoch/val_MSE"} <= (
            scalar_tags(run_dir / "tensorboard" / module)
        )
    assert (run_dir / "checkpoints" / "phase" / "best.keras").is_file()
    # the phase module is selected on its K = 0 twin's velocity figures, logged every epoch
    assert "epoch/val_velocity_score" in scalar_tags(run_dir / "tensorboard" / "phase")
    assert -1 <= float(rows[1]["val_pearson_overall"]) <= 1 and float(rows[1]["val_psv_error_radial"]) >= 0
    assert state["best"]["phase"]["velocity_score"] == pytest.approx(float(rows[1]["val_velocity_score"]), rel=1e-5)

    info, networks = load_models(run_dir / "models")
    assert (info.preset, info.crop_size, info.frames) == ("tiny", 32, 20)
    assert info.validation["interpolator"]["DICE"] == pytest.approx(float(rows[0]["val_DICE"]), rel=1e-5)
    assert "--preset tiny" in info.command and "--epochs 1" in info.command
    best = tf.keras.models.load_model(run_dir / "checkpoints" / "interpolator" / "best.keras", compile=False)
    for saved, shipped in zip(best.get_weights(), networks["interpolator"].get_weights(), strict=True):
        np.testing.assert_array_equal(saved, shipped)
    assert networks["phase"].background_mean == pytest.approx(mean, rel=1e-6)


@pytest.mark.slow
def test_training_loss_falls_over_a_few_epochs(tiny_phantom, tmp_path):
    from keras_hdl.training.train import TrainOptions, train

    result = train(
        TrainOptions(tmp_path / "run", module="phase", preset="tiny", data=tiny_phantom, epochs=4, verbose=0)
    )
    rows = [row for row in result.metrics if row["module"] == "phase"]
    losses = [float(row["train_generator_loss"]) for row in rows]
    l1 = [float(row["val_l1_foreground"]) for row in rows]
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    assert losses[-1] < losses[0] and l1[-1] < l1[0], (losses, l1)
    # the best epoch is the one with the lowest velocity score of the validation twins (the preset's selection)
    scores = [float(row["val_velocity_score"]) for row in rows]
    assert result.best["phase"]["epoch"] == int(np.argmin(scores)) + 1


def test_no_arguments_mean_cpu_preset_built_in_phantom_both_modules(tmp_path):
    from click.testing import CliRunner

    from keras_hdl.commands.train import command
    from keras_hdl.training.options import TrainOptions
    from keras_hdl.training.run_folder import resolve_settings

    settings = resolve_settings(TrainOptions(tmp_path / "run"))
    assert (settings.preset.name, settings.modules, settings.data) == ("cpu", ("interpolator", "phase"), None)
    assert (settings.seed, settings.precision, settings.epochs) == (0, "fp32", None)
    assert settings.preset.as_dict() == load_preset("cpu").as_dict()
    assert "runs/latest" in CliRunner().invoke(command, ["--help"]).output  # the default run folder


# ---------------------------------------------------------------- bad input
def refused(result, out_dir: Path, *phrases: str) -> None:
    """Exit code 2, a message holding every phrase, no traceback, and no run folder left."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    assert not out_dir.exists()


def write_config(path: Path, edit) -> Path:
    data = load_preset("tiny").as_dict()
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return path


def test_config_with_an_unknown_or_mistyped_key_is_refused(tiny_phantom, tmp_path, cli):
    out = tmp_path / "run"
    mistyped = write_config(tmp_path / "typo.yaml", lambda d: d["phase"]["training"].update(learning_rte=1e-3))
    refused(cli("train", "--config", mistyped, "--data", tiny_phantom, "--out", out), out, "learning_rte")
    unknown = write_config(tmp_path / "unknown.yaml", lambda d: d.update(optimiser="adam"))
    refused(cli("train", "--config", unknown, "--data", tiny_phantom, "--out", out), out, "optimiser")


def test_data_folder_without_usable_series_is_refused(tmp_path, cli):
    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    out = tmp_path / "run"
    refused(cli("train", "--preset", "tiny", "--data", empty, "--out", out), out, "no usable series")


def scan_folder(tmp_path: Path, phantom: Path, frames: int | None = None, masks: bool = True) -> Path:
    """A folder of scans (one sub-folder per scan with series.npz) made from the phantom's scans."""
    from keras_hdl.readers import read_series

    folder = tmp_path / "scans"
    for source in sorted(phantom.glob("subj*/series.npz")):
        series = read_series(source)
        keep = slice(None, frames)
        trimmed = Series(
            magnitude=series.magnitude[keep],
            phase=series.phase[keep],
            venc=series.venc,
            masks=series.masks[keep] if masks else None,
            pixel_spacing=series.pixel_spacing,
            rr_interval_ms=series.frame_interval_ms * len(series.magnitude[keep]),  # frames kept, as far apart
        )
        (folder / source.parent.name).mkdir(parents=True)
        trimmed.save_npz(folder / source.parent.name / "series.npz")
    return folder


def test_series_without_masks_is_refused(tiny_phantom, tmp_path, cli):
    scans = scan_folder(tmp_path, tiny_phantom, masks=False)
    out = tmp_path / "run"
    refused(cli("train", "--preset", "tiny", "--data", scans, "--out", out), out, "no myocardium masks", "seg.dcm")


def test_k_larger_than_the_frames_allow_is_refused(tiny_phantom, tmp_path, cli):
    scans = scan_folder(tmp_path, tiny_phantom, frames=6)  # the tiny preset drops up to K = 6 frames
    out = tmp_path / "run"
    refused(cli("train", "--preset", "tiny", "--data", scans, "--out", out), out, "K = 6", "the data have 6")


def test_zero_epochs_and_a_multiworker_run_without_tf_config_are_refused(tiny_phantom, tmp_path, cli, monkeypatch):
    out = tmp_path / "run"
    refused(cli("train", "--preset", "tiny", "--epochs", "0", "--out", out), out, "--epochs must be >= 1")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = cli("train", "--preset", "tiny", "--data", tiny_phantom, "--strategy", "multiworker", "--out", out)
    refused(result, out, "TF_CONFIG")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}')
    result = cli("train", "--preset", "tiny", "--data", tiny_phantom, "--strategy", "multiworker", "--out", out)
    refused(result, out, "task index 3")


def fake_run_folder(run_dir: Path, preset: str = "tiny", **state) -> None:
    """The files --resume reads (config and run state), as a run of ``preset`` leaves them."""
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(load_preset(preset).as_dict()))
    (run_dir / "run.json").write_text(json.dumps({"completed_epochs": {}, "best": {}, "data_path": None, **state}))


def test_resume_refuses_another_config_or_seed_and_leaves_the_run_as_it_was(tmp_path, cli):
    run_dir = tmp_path / "run"
    fake_run_folder(run_dir, seed=0, mixed_precision="off")
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    result = cli("train", "--resume", "--preset", "cpu", "--out", run_dir)
    assert result.exit_code == 2 and "another configuration" in result.output, result.output
    result = cli("train", "--resume", "--seed", "3", "--out", run_dir)
    assert result.exit_code == 2 and "--seed 0, not 3" in result.output, result.output
    result = cli("train", "--resume", "--precision", "bf16", "--out", run_dir)
    assert result.exit_code == 2 and "--precision fp32, not bf16" in result.output, result.output
    # the older spelling still works (run.json keeps "off" for fp32)
    result = cli("train", "--resume", "--mixed-precision", "bf16", "--out", run_dir)
    assert result.exit_code == 2 and "--precision fp32, not bf16" in result.output, result.output
    assert "deprecated" in result.output
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before


def test_resume_needs_a_run_folder_and_a_new_run_needs_an_empty_one(tmp_path, cli):
    missing = tmp_path / "nothing"
    refused(cli("train", "--resume", "--out", missing), missing, "not a run folder")
    run_dir = tmp_path / "run"
    fake_run_folder(run_dir)
    result = cli("train", "--preset", "tiny", "--out", run_dir)
    assert result.exit_code == 2 and "already holds a run" in result.output and "--resume" in result.output


def test_baseline_variants_train_the_paper_baselines(tiny_phantom, tmp_path, cli):
    """--variant vanilla trains the vanilla R2UNet and pix2pix without composite; gan adds a PatchGAN."""
    from keras_hdl.model_store import load_models
    from keras_hdl.models import VanillaR2UNetInterpolator

    vanilla_dir, gan_dir = tmp_path / "vanilla", tmp_path / "gan"
    common = ("--preset", "tiny", "--epochs", "1", "--data", tiny_phantom)
    result = cli("train", *common, "--variant", "vanilla", "--out", vanilla_dir)
    assert result.exit_code == 0, result.output
    info, networks = load_models(vanilla_dir / "models")
    assert info.variant == "vanilla" and "--variant vanilla" in info.command
    assert isinstance(networks["interpolator"], VanillaR2UNetInterpolator)
    assert networks["phase"].composite is False

    result = cli("train", *common, "--variant", "gan", "--out", gan_dir)
    assert result.exit_code == 0, result.output
    state = json.loads((gan_dir / "run.json").read_text())
    assert (state["module"], state["variant"]) == ("interpolator", "gan")
    assert float(read_metrics(gan_dir)[0]["train_adversarial"]) > 0  # the PatchGAN term was trained
    assert checkpoint_value(gan_dir, "interpolator", "discriminator_optimizer/_iterations") > 0
    info, networks = load_models(gan_dir / "models", "interpolator")
    assert info.variant == "gan" and set(networks) == {"interpolator"}

    refused = cli("train", *common, "--variant", "gan", "--module", "phase", "--out", tmp_path / "x")
    assert refused.exit_code == 2 and "phase model is a GAN already" in refused.output
    assert not (tmp_path / "x").exists()
