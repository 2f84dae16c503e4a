"""The tiny phantom dataset the training and evaluation tests train on (a uniquely named helper module)."""

from __future__ import annotations

from pathlib import Path

TINY_PHANTOM = {"subjects": 3, "slices": 1, "frames": 20, "size": 64, "seed": 1}
"""1 training, 1 validation and 1 test subject; one 20-frame slice each, 64 px."""


def write_tiny_phantom(folder: Path) -> None:
    from keras_hdl.phantom import PhantomConfig
    from keras_hdl.phantom.dataset import write_dataset

    write_dataset(folder, PhantomConfig(**TINY_PHANTOM))
