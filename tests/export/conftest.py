"""Fixtures of the export tests: one `keras-hdl export --savedmodel --tflite` run shared by the whole test run."""

from __future__ import annotations

import pytest
from stand_in_serving import StandInServing
from twin_helpers import EXPORT_VERSION, shared_folder, tiny_models


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tiny_models_dir):
    """The model base written by the CLI (`keras-hdl export --savedmodel DIR --model MODELS --tflite --version 3`)."""
    from click.testing import CliRunner

    from keras_hdl.cli import main

    def export(folder):
        args = ["export", "--savedmodel", str(folder), "--model", str(tiny_models_dir), "--tflite"]
        result = CliRunner().invoke(main, [*args, "--version", str(EXPORT_VERSION)])
        assert result.exit_code == 0, result.output

    return shared_folder(tmp_path_factory, "exported", export)


@pytest.fixture(scope="session")
def networks(tiny_models_dir):
    from keras_hdl.synthesis.networks import load_local_networks

    return load_local_networks(tiny_models_dir)[1]


@pytest.fixture(scope="module")
def server(exported):
    """The stand-in TF Serving (tests/export/stand_in_serving.py) on the exported model base, per test module."""
    with StandInServing(exported) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def phantom_npz(tmp_path_factory):
    """A full 2-slice, 50-frame, 64² phantom series (.npz) to synthesise from."""
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=2, frames=50, size=64, seed=3), 0)
    return series.save_npz(tmp_path_factory.mktemp("input") / "full.npz")
