"""Shared fixtures of the training tests: a tiny phantom dataset and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_dataset import write_tiny_phantom


@pytest.fixture(scope="session")
def tiny_phantom(tmp_path_factory) -> Path:
    """A phantom dataset folder small enough to train the tiny preset in seconds."""
    folder = tmp_path_factory.mktemp("phantom") / "tiny"
    write_tiny_phantom(folder)
    return folder


@pytest.fixture
def cli():
    """``cli(*args)`` invokes `keras-hdl ARGS` in this process; returns click's result (exit_code, output)."""
    from keras_hdl.cli import main

    return lambda *args: CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture(scope="session")
def tiny_shards(tiny_phantom, tmp_path_factory) -> Path:
    """`keras-hdl prepare` shards of the tiny phantom at the tiny preset's 32-px crops."""
    from keras_hdl.training.sources import prepare_shards

    folder = tmp_path_factory.mktemp("shards") / "tiny"
    prepare_shards(tiny_phantom, folder, crop_size=32, cines_per_shard=1)
    return folder
