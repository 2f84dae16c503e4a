"""The weight average: its update by hand, and a run that validates and saves the average."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

tf = pytest.importorskip("tensorflow")

# batch norm: the average covers the moving statistics (non-trainable weights) as well
SMALL_NETWORK = {"class": "PatchDiscriminator", "image_channels": 1, "context_channels": 1, "base_width": 4}


def small_network(norm: str = "batch"):
    from keras_hdl.config import build_from_config

    return build_from_config(SMALL_NETWORK | {"norm": norm})


def test_average_follows_the_warm_up_decay_by_hand():
    from keras_hdl.training.averaging import WeightAverage

    network = small_network()
    start = [w.copy() for w in network.get_weights()]
    average = WeightAverage(network, SMALL_NETWORK | {"norm": "batch"}, decay=0.5)
    assert any(not w.trainable for w in average.network.weights)  # moving statistics are averaged too
    for averaged, weight in zip(average.network.get_weights(), start, strict=True):
        np.testing.assert_array_equal(averaged, weight)  # starts as a copy

    network.set_weights([w + 1.0 for w in start])
    # update 1: d = min(0.5, 2/11) → w0 + (1 − 2/11); update 2: d = min(0.5, 3/12) = 1/4; update 3: d = 4/13
    expected_offset = 0.0
    for count in (1, 2, 3):
        decay = float(average.update())
        assert decay == pytest.approx(min(0.5, (1 + count) / (10 + count)), rel=1e-6)
        expected_offset = decay * expected_offset + (1 - decay) * 1.0
    for count in (4, 5, 6, 7, 8):  # (1 + n) / (10 + n) > 0.5 from n = 9 on; until then the ramp
        decay = float(average.update())
        assert decay == pytest.approx(min(0.5, (1 + count) / (10 + count)), rel=1e-6)
        expected_offset = decay * expected_offset + (1 - decay) * 1.0
    for _ in range(3):
        assert float(average.update()) == pytest.approx(0.5)
        expected_offset = 0.5 * expected_offset + 0.5
    assert 0.9 < expected_offset < 1.0
    for averaged, weight in zip(average.network.get_weights(), start, strict=True):
        # float32 arithmetic on weights of magnitude ≲ 2: a few ulps per update
        np.testing.assert_allclose(averaged, weight + expected_offset, rtol=1e-5, atol=1e-5)


def test_decay_must_be_a_fraction():
    from keras_hdl.training.averaging import WeightAverage

    with pytest.raises(ValueError, match="decay"):
        WeightAverage(small_network(), SMALL_NETWORK | {"norm": "batch"}, decay=1.0)


@pytest.mark.parametrize("bad", [1.0, -0.1, True, "0.99"])
def test_preset_refuses_a_decay_outside_zero_to_one(bad):
    from keras_hdl.config import load_preset, preset_from_dict
    from keras_hdl.errors import InputError

    data = load_preset("tiny").as_dict()
    data["phase"]["training"]["weight_average_decay"] = bad
    with pytest.raises(InputError, match=r"phase\.training\.weight_average_decay"):
        preset_from_dict(data)


def test_a_run_with_weight_averaging_validates_and_saves_the_average(tiny_phantom, tmp_path):
    import keras

    from keras_hdl.config import load_preset
    from keras_hdl.training.sources import load_training_data
    from keras_hdl.training.tasks.phase import velocity_figures
    from keras_hdl.training.train import TrainOptions, train

    data = load_preset("tiny").as_dict()
    data["phase"]["training"]["weight_average_decay"] = 0.9
    preset_path = tmp_path / "tiny-average.yaml"
    preset_path.write_text(yaml.safe_dump(data))
    run_dir = tmp_path / "run"
    result = train(TrainOptions(run_dir, module="phase", preset=preset_path, data=tiny_phantom, epochs=1, verbose=0))

    # the checkpoint holds the raw network and its average after every step of the epoch
    best_path = run_dir / "checkpoints" / "phase" / "best.keras"
    saved, raw, averaged = (keras.saving.load_model(best_path, compile=False) for _ in range(3))
    updates = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(network=raw, averaged_network=averaged, averaged_updates=updates)
    checkpoint.restore(tf.train.latest_checkpoint(run_dir / "checkpoints" / "phase")).expect_partial()
    assert int(updates.numpy()) == data["phase"]["training"]["steps_per_epoch"]

    # the saved best network (the only epoch) is the average, not the raw network
    for saved_weight, averaged_weight in zip(saved.get_weights(), averaged.get_weights(), strict=True):
        np.testing.assert_array_equal(saved_weight, averaged_weight)  # a copy of the same float32 values
    differences = [np.abs(a - r).max() for a, r in zip(averaged.get_weights(), raw.get_weights(), strict=True)]
    assert max(differences) > 1e-6  # 4 Adam steps of lr 2e-4 moved the raw weights away from their average

    # the logged validation figures are the average's
    validation = load_training_data(tiny_phantom, 32).val
    logged = float(result.metrics[-1]["val_velocity_score"])
    assert velocity_figures(averaged, validation)["velocity_score"] == pytest.approx(logged, rel=1e-4)
    # and not the raw network's (its score differs by ~1e-3 relative, ten times the tolerance above)
    assert velocity_figures(raw, validation)["velocity_score"] != pytest.approx(logged, rel=1e-4)
