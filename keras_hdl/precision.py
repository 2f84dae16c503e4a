"""One precision vocabulary for every command, and the Keras dtype policy each word means.

Importing this module is cheap (no TensorFlow): the command-line parsers take their choices from it.

- ``fp32``: float32 everywhere (the default; the same numbers on every machine).
- ``bf16``: Keras' ``mixed_bfloat16`` (bfloat16 compute, float32 weights): CPUs with AVX512-BF16 / AMX
  and recent GPUs.
- ``fp16``: Keras' ``mixed_float16`` with loss scaling: training on GPUs only.
- ``auto``: inference only: ``bf16`` where the hardware computes bfloat16 natively, else ``fp32``
  (:func:`keras_hdl.runtime.resolve_precision`).

Training once spelled full precision ``off`` (``--mixed-precision off``); run folders still record
that spelling in ``run.json`` (:func:`run_file_name`), and ``--mixed-precision`` stays an alias of
``--precision`` (:data:`LEGACY_NAMES`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from keras_hdl.errors import InputError

DTYPE_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
TRAINING_PRECISIONS = ("fp32", "bf16", "fp16")
INFERENCE_PRECISIONS = ("fp32", "bf16", "auto")
DEFAULT_PRECISION = "fp32"
LEGACY_NAMES = {"off": "fp32"}
"""Older spellings still accepted (``--mixed-precision off``), and the one run.json keeps."""


def training_precision(name: str, flag: str = "--precision") -> str:
    """The vocabulary's word for a training precision given in either spelling; InputError if unknown."""
    precision = LEGACY_NAMES.get(name, name)
    if precision not in TRAINING_PRECISIONS:
        raise InputError(f"{flag} {name!r}: choose {', '.join(TRAINING_PRECISIONS)}")
    return precision


def run_file_name(precision: str) -> str:
    """The spelling ``run.json`` records (``off`` for fp32, as run folders always have)."""
    legacy = {word: old for old, word in LEGACY_NAMES.items()}
    return legacy.get(precision, precision)


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy (e.g. ``mixed_bfloat16``) inside the block; the previous one after."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
