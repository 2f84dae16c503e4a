"""Bad input to `keras-hdl evaluate` is refused with a fix, before anything is trained or written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from evaluation_helpers import invoke

from keras_hdl.errors import InputError
from keras_hdl.evaluation.experiment import EvaluationOptions, evaluate, parse_k_values
from keras_hdl.evaluation.runs import (
    NO_RUN,
    ORIGIN_SHIPPED,
    RunRequest,
    given_runs,
    resolve_runs,
    train_variant,
    training_folder,
)
from keras_hdl.model_store import SHIPPED_MODELS
from keras_hdl.phantom import dataset as phantom_dataset
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import default_phantom_name


def request(tmp_path: Path, *runs: Path, preset: str = "tiny", data: Path | None = None, **changes) -> RunRequest:
    return RunRequest(preset=preset, runs=tuple(runs), data=data, seed=0, out_dir=tmp_path / "out", **changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0,3", "from 1 to 6"), ("7", "from 1 to 6"), ("1,x", "comma-separated integers"), ("3,3", "appears twice")],
)
def test_k_out_of_range_or_malformed_is_refused(text, message):
    with pytest.raises(InputError, match=message):
        parse_k_values(text)


def test_k_values_are_sorted():
    assert parse_k_values("6, 1,3") == (1, 3, 6)


def test_cli_reports_a_bad_k_as_an_error_with_exit_code_2(tmp_path):
    result = invoke(["evaluate", "--k", "9", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Error: --k [9]: each K must be an integer from 1 to 6" in result.output
    assert not (tmp_path / "out").exists()


def test_an_unknown_run_folder_is_refused_with_a_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"neither a run folder .* pass the --out folder of `keras-hdl train`"):
        given_runs(request(tmp_path, tmp_path / "empty"))


def test_a_variant_given_twice_is_refused(tmp_path, untrained_runs):
    copy = tmp_path / "hdl-copy"
    shutil.copytree(untrained_runs["hdl"], copy)
    with pytest.raises(InputError, match=r"two runs of variant 'hdl'.*give one run per variant"):
        given_runs(request(tmp_path, untrained_runs["hdl"], copy))


def test_a_run_of_another_preset_is_refused(tmp_path, untrained_runs):
    with pytest.raises(InputError, match=r"trained with the 'tiny' preset but --preset is 'cpu'.*pass --preset tiny"):
        given_runs(request(tmp_path, untrained_runs["hdl"], preset="cpu"))


def test_the_run_folder_or_its_models_folder_is_accepted(tmp_path, untrained_runs):
    found = given_runs(request(tmp_path, untrained_runs["vanilla"], untrained_runs["gan"] / "models"))
    assert {v: r.models_dir for v, r in found.items()} == {
        "vanilla": untrained_runs["vanilla"] / "models",
        "gan": untrained_runs["gan"] / "models",
    }


def test_without_runs_the_baselines_are_listed_as_missing_and_cpu_uses_the_shipped_weights(tmp_path):
    runs, missing = resolve_runs(request(tmp_path, preset="cpu"))
    assert missing == {"vanilla": NO_RUN, "gan": NO_RUN}
    assert runs["hdl"].origin == ORIGIN_SHIPPED and runs["hdl"].models_dir == SHIPPED_MODELS
    runs, missing = resolve_runs(request(tmp_path, preset="tiny"))
    assert runs == {} and missing == {"hdl": NO_RUN, "vanilla": NO_RUN, "gan": NO_RUN}
    assert NO_RUN == "no run (pass --runs or --train-missing)"


def test_runs_trained_on_different_crops_are_refused(tmp_path, untrained_runs):
    other = tmp_path / "gan-other-spacing"
    shutil.copytree(untrained_runs["gan"], other)
    info_path = other / "models" / "model_info.json"
    info = json.loads(info_path.read_text())
    info["pixel_spacing_mm"] = [1.0, 1.0]
    info_path.write_text(json.dumps(info))
    with pytest.raises(InputError, match="trained on different crops"):
        resolve_runs(request(tmp_path, untrained_runs["hdl"], other))


def test_train_missing_caches_only_runs_of_the_built_in_phantom(tmp_path, monkeypatch, tiny_phantom):
    monkeypatch.setenv("KERAS_HDL_CACHE", str(tmp_path / "cache"))
    phantom = default_phantom_name()  # runs of another built-in phantom are never reused
    assert training_folder(request(tmp_path), "gan") == tmp_path / "cache" / "runs" / f"tiny-gan-seed0-{phantom}"
    assert (
        training_folder(request(tmp_path, epochs=2), "gan")
        == tmp_path / "cache" / "runs" / f"tiny-gan-seed0-e2-{phantom}"
    )
    current = training_folder(request(tmp_path), "gan")
    monkeypatch.setattr(phantom_dataset, "DEFAULT_PHANTOM", PhantomConfig(subjects=12, size=128, seed=0))  # v1
    assert training_folder(request(tmp_path), "gan").name == "tiny-gan-seed0-phantom-v1-fixed-12subjects-seed0-r2"
    assert training_folder(request(tmp_path), "gan") != current
    assert training_folder(request(tmp_path, data=tiny_phantom), "gan") == tmp_path / "out" / "runs" / "gan"


def test_train_missing_refuses_a_run_folder_of_other_data(tmp_path, tiny_phantom):
    folder = tmp_path / "out" / "runs" / "vanilla"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"data_path": "/elsewhere", "seed": 0, "variant": "vanilla"}))
    with pytest.raises(InputError, match=r"holds a run with data_path '/elsewhere'.*remove the folder"):
        train_variant(request(tmp_path, data=tiny_phantom, train_missing=True), "vanilla")


def test_data_that_is_not_a_phantom_dataset_is_refused(tmp_path):
    (tmp_path / "scans").mkdir()
    with pytest.raises(InputError, match=r"not a phantom dataset \(no manifest.json\).*keras-hdl phantom"):
        evaluate(EvaluationOptions(out_dir=tmp_path / "out", preset="tiny", data=tmp_path / "scans"))
    assert not (tmp_path / "out").exists()


def test_experiment_circles_runs_the_appendix_experiment(tmp_path, monkeypatch):
    circles = pytest.importorskip("keras_hdl.evaluation.circles")
    calls = []
    monkeypatch.setattr(
        circles, "run_circles_experiment", lambda out_dir, preset, seed: calls.append((out_dir, preset, seed))
    )
    result = invoke(["evaluate", "--experiment", "circles", "--preset", "tiny", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path, "tiny", 3)]
