"""Shared fixtures for the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_preset():
    from keras_hdl.config import load_preset

    return load_preset("tiny")
