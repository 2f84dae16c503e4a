"""Inference-mode outputs equal training-mode outputs on the training data, for every network.

The 0.1 networks shared one batch norm across the steps of each recurrent unit: its moving
statistics fitted none of the steps, and at inference the networks' outputs collapsed.
Here each network trains a few steps; then its batch norms take the statistics of one
training-mode pass over a batch (momentum 0: the moving statistics become that pass's
batch statistics), and the inference-mode output on that batch must equal the
training-mode output. With one norm per step this holds exactly (up to float rounding);
with a norm shared by the steps the moving statistics are those of the last step only and
the outputs differ by a large fraction of their spread.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_hdl.errors import InputError  # noqa: E402
from keras_hdl.model_store import ModelInfo, load_models, save_models  # noqa: E402
from keras_hdl.models import PhaseGenerator, TemporalInterpolator, VanillaR2UNetInterpolator  # noqa: E402

WIDTHS = [8, 16, 32]
SIZE = 32
BATCH = 4


def interpolation_batch(rng):
    inputs = {
        "magnitudes": rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 2)).astype(np.float32),
        "masks": (rng.random((BATCH, SIZE, SIZE, 2)) > 0.6).astype(np.float32),
        "condition": np.float32([[0.1, 0.14, 0.2], [0.3, 0.32, 0.36], [0.5, 0.6, 0.64], [0.9, 0.94, 1.02]]),
    }
    return inputs, rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 1)).astype(np.float32), "magnitude"


def phase_batch(rng):
    inputs = {"magnitudes": rng.uniform(-0.5, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)}
    return inputs, rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32), "phase"


NETWORKS = {
    "interpolator": (lambda: TemporalInterpolator(widths=WIDTHS), interpolation_batch),
    "vanilla interpolator": (lambda: VanillaR2UNetInterpolator(widths=WIDTHS), interpolation_batch),
    "phase generator": (lambda: PhaseGenerator(widths=WIDTHS, composite=False), phase_batch),
}


def train_a_few_steps(model, inputs, target, output, steps=3):
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(inputs, training=True)[output] - target))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))


def trained_with_batch_statistics(name, rng):
    """(model trained a few steps, inputs, output name, training-mode output), the model's batch norms holding
    that training-mode pass's batch statistics as their moving ones."""
    build, make_batch = NETWORKS[name]
    keras.utils.set_random_seed(1)
    model = build()
    inputs, target, output = make_batch(rng)
    train_a_few_steps(model, inputs, target, output)
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms, "the networks use batch norm in these tests"
    for norm in norms:
        norm.momentum = 0.0  # the next training-mode pass writes its batch statistics as the moving ones
    training_output = np.asarray(model(inputs, training=True)[output])
    return model, inputs, output, training_output


@pytest.mark.parametrize("name", list(NETWORKS))
def test_inference_mode_output_equals_training_mode_output_on_training_data(name, rng):
    model, inputs, output, training_output = trained_with_batch_statistics(name, rng)
    inference_output = np.asarray(model(inputs, training=False)[output])
    spread = training_output.std()
    assert spread > 1e-2  # a real signal, not a collapsed output
    # Batch and moving statistics are the same numbers; what remains is float32 rounding of
    # (x - mean) / sqrt(var + eps) through ~20 layers: far below 1e-3 of the output's spread.
    # A norm shared by the steps gives differences of the order of the spread itself.
    np.testing.assert_allclose(inference_output, training_output, atol=1e-3 * spread + 1e-5)


@pytest.mark.parametrize("name", ["interpolator", "phase generator"])
def test_the_saved_and_loaded_network_gives_the_training_mode_output(name, rng, tmp_path):
    """What a user runs: the network written by save_models and read back by load_models, at inference. Its
    moving statistics were written by the fused training pass; the same tolerance as the test above."""
    model, inputs, output, training_output = trained_with_batch_statistics(name, rng)
    network = "phase" if name == "phase generator" else "interpolator"
    info = ModelInfo(preset="tiny", crop_size=SIZE, pixel_spacing_mm=(2.0, 2.0), frames=50)
    folder = save_models(tmp_path / "models", info, **{network: model})
    _, loaded = load_models(folder, network)
    inference_output = np.asarray(loaded[network](inputs, training=False)[output])
    spread = training_output.std()
    assert spread > 1e-2
    np.testing.assert_allclose(inference_output, training_output, atol=1e-3 * spread + 1e-5)


def old_layout(path):
    """Rewrite a .keras file's config as keras-hdl 0.1 wrote it (no block_layout entry)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    del config["config"]["block_layout"]
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_models_folder_of_the_old_block_layout_is_refused_with_the_fix(tmp_path):
    info = ModelInfo(preset="tiny", crop_size=SIZE, pixel_spacing_mm=(2.0, 2.0), frames=50)
    folder = save_models(tmp_path / "models", info, phase=PhaseGenerator(widths=WIDTHS))
    _, loaded = load_models(folder, "phase")  # the current layout loads
    assert isinstance(loaded["phase"], PhaseGenerator)
    old_layout(folder / "phase.keras")
    with pytest.raises(InputError, match=r"phase\.keras: .*layout 1.*Retrain it with `keras-hdl train`"):
        load_models(folder, "phase")
