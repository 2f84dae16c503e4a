"""`keras-hdl phantom` and `keras-hdl demo`: outputs written; bad arguments exit with code 2 and write nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from keras_hdl import demo
from keras_hdl.cli import main
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.truth import load_truth
from keras_hdl.readers import read_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_ARGS = ["--slices", "1", "--frames", "20", "--size", "64"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_phantom_writes_dataset_manifest_and_montage(tmp_path):
    out_dir = tmp_path / "out"
    result = run("phantom", str(out_dir), "--subjects", "3", *SMALL_ARGS, "--seed", "2", "--preview")
    assert result.exit_code == 0, result.output
    assert "wrote 3 scans" in result.output and "preview.png" in result.output
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["seed"] == 2 and len(manifest["scans"]) == 3 and manifest["preview"] == "preview.png"
    assert (out_dir / "preview.png").read_bytes().startswith(PNG_SIGNATURE)
    for scan in manifest["scans"]:
        series = read_series(out_dir / scan["files"][0])
        assert series.phase is not None and series.masks is not None and series.num_frames == 20
        assert load_truth(out_dir / scan["truth"]).radial_mm_s.shape == (1, 20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subjects", "0"], "subjects"),
        (["--size", "48"], "too small for the anatomy"),
        (["--frames", "10"], "frames"),
        (["--slices", "0"], "slices"),
        (["--rescans", "0"], "rescans"),
        (["--format", "tiff"], "--format"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, args, message):
    result = run("phantom", str(tmp_path / "out"), *SMALL_ARGS, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_existing_non_empty_folder_needs_overwrite(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("keep me")
    result = run("phantom", str(out_dir), *SMALL_ARGS)
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]
    assert run("phantom", str(out_dir), *SMALL_ARGS, "--overwrite").exit_code == 0
    assert not (out_dir / "notes.txt").exists() and (out_dir / "manifest.json").is_file()


def test_demo_phantom_step_writes_and_summarises_the_phantom(tmp_path):
    dataset, manifest = demo.generate_demo_phantom(tmp_path / "demo")
    assert (dataset / "manifest.json").is_file() and (dataset / "preview.png").read_bytes().startswith(PNG_SIGNATURE)
    summary = "\n".join(demo.summary_lines(dataset, manifest))
    for expected in ("3 scans of 3 subjects", "train:", "50 frames", "128x128 px", "2.34 mm", "mm/s", "base", "apex"):
        assert expected in summary


def test_demo_replaces_its_own_previous_output(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_PHANTOM", PhantomConfig(subjects=3, slices=3, frames=20, size=64))
    out_dir = tmp_path / "demo"
    demo.generate_demo_phantom(out_dir)
    truth_file = out_dir / "phantom" / "subj001_scan1" / "truth.npz"
    first_bytes = truth_file.read_bytes()
    (out_dir / "phantom" / "stale.txt").write_text("from an older demo")
    demo.generate_demo_phantom(out_dir)
    assert truth_file.read_bytes() == first_bytes and not (out_dir / "phantom" / "stale.txt").exists()


def test_demo_refuses_a_foreign_folder_in_its_place(tmp_path):
    foreign = tmp_path / "demo" / "phantom"
    foreign.mkdir(parents=True)
    (foreign / "thesis.tex").write_text("precious")
    result = run("demo", "--out", str(tmp_path / "demo"))
    assert result.exit_code == 2 and "not a phantom dataset" in result.output
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]
