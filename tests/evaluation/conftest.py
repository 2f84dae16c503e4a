"""Fixtures of the evaluation tests: a tiny phantom, untrained tiny runs of every variant, one evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evaluation_helpers import VARIANTS, evaluate_args, invoke, phantom_spacing, save_untrained_run
from tiny_dataset import write_tiny_phantom
from twin_helpers import shared_folder


@pytest.fixture(scope="session")
def tiny_phantom(tmp_path_factory) -> Path:
    """A phantom dataset with one test subject (built once per test run, shared by the xdist workers)."""
    return shared_folder(tmp_path_factory, "evaluation_phantom", write_tiny_phantom)


@pytest.fixture(scope="session")
def untrained_runs(tiny_phantom, tmp_path_factory) -> dict[str, Path]:
    """Run folders of untrained tiny networks of every variant: variant → run folder."""

    def build(root: Path) -> None:
        spacing = phantom_spacing(tiny_phantom)
        for variant in VARIANTS:
            save_untrained_run(root / variant, variant, spacing)

    root = shared_folder(tmp_path_factory, "evaluation_runs", build)
    return {variant: root / variant for variant in VARIANTS}


@pytest.fixture(scope="session")
def evaluated(tiny_phantom, untrained_runs, tmp_path_factory) -> Path:
    """`keras-hdl evaluate --preset tiny` on the tiny phantom with every variant's run, run once per test run."""

    def build(out_dir: Path) -> None:
        result = invoke(evaluate_args(tiny_phantom, untrained_runs, out_dir))
        if result.exit_code != 0:
            raise RuntimeError(f"evaluate failed ({result.exit_code}): {result.output}\n{result.exception!r}")

    return shared_folder(tmp_path_factory, "evaluation_out", build)


@pytest.fixture
def results(evaluated) -> dict:
    return json.loads((evaluated / "results.json").read_text())
