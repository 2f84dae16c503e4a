"""`keras-hdl export --savedmodel`: serving layout, parity with Keras and the Python pipeline, standard ops."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from twin_helpers import EXPORT_VERSION

from keras_hdl.cli import main
from keras_hdl.export.savedmodel import graph_ops, nonstandard_ops
from keras_hdl.export.serving import SERVABLES

SAVED_MODEL_CLI = Path(sys.executable).parent / "saved_model_cli"
CROP = 32
DOCUMENTED = {  # name → ({input: (dtype, shape)}, {output: (dtype, shape)}), as in export/savedmodel.py
    "interpolator": (
        {"magnitudes": ("DT_FLOAT", "(-1, 32, 32, 2)"), "masks": ("DT_FLOAT", "(-1, 32, 32, 2)"),
         "condition": ("DT_FLOAT", "(-1, 3)")},
        {"magnitude": ("DT_FLOAT", "(-1, 32, 32, 1)"), "mask": ("DT_FLOAT", "(-1, 32, 32, 1)")},
    ),
    "phase": (  # the tiny preset's generator sees 5 neighbouring frames and the cycle position
        {"magnitudes": ("DT_FLOAT", "(-1, 32, 32, 5)"), "position": ("DT_FLOAT", "(-1, 1)"),
         "seed": ("DT_INT32", "(-1, 2)")},
        {"phase": ("DT_FLOAT", "(-1, 32, 32, 3)")},
    ),
    "twin": (
        {"magnitudes": ("DT_FLOAT", "(-1, -1, 32, 32)"), "masks": ("DT_FLOAT", "(-1, -1, 32, 32)"),
         "k": ("DT_INT32", "()"), "frames": ("DT_INT32", "()"), "seed": ("DT_INT32", "()")},
        {"magnitude": ("DT_FLOAT", "(-1, -1, 32, 32)"), "mask": ("DT_FLOAT", "(-1, -1, 32, 32)"),
         "phase": ("DT_FLOAT", "(-1, -1, 32, 32, 3)")},
    ),
}  # fmt: skip


def served(exported: Path, name: str):
    return tf.saved_model.load(str(exported / name / str(EXPORT_VERSION))).signatures["serving_default"]


def test_serving_layout_and_model_config(exported):
    for name in SERVABLES:
        assert (exported / name / str(EXPORT_VERSION) / "saved_model.pb").is_file()
    assert sorted(p.name for p in (exported / "tflite" / str(EXPORT_VERSION)).iterdir()) == [
        "interpolator_float16.tflite",
        "interpolator_float32.tflite",
        "model_info.json",
        "phase_float16.tflite",
        "phase_float32.tflite",
    ]
    config = (exported / "models.config").read_text()
    entries = re.findall(r'name: "(\w+)"\s+base_path: "([^"]+)"\s+model_platform: "tensorflow"', config)
    assert entries == [(name, f"/models/{name}") for name in SERVABLES]
    assert config.startswith("model_config_list {") and config.count("{") == config.count("}")


def test_saved_model_cli_lists_documented_signatures(exported):
    shows = {  # one saved_model_cli process per servable, run side by side
        name: subprocess.Popen(
            [str(SAVED_MODEL_CLI), "show", "--all", "--dir", str(exported / name / str(EXPORT_VERSION))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for name in DOCUMENTED
    }
    for name, (inputs, outputs) in DOCUMENTED.items():
        text, _ = shows[name].communicate()
        assert shows[name].returncode == 0, name
        assert "MetaGraphDef with tag-set: 'serve'" in text
        block = text.split("signature_def['serving_default']:")[1].split("Method name is:")[0]
        input_part, output_part = block.split("contains the following output(s):")
        pattern = r"(?:inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))"
        found_inputs = {n: (d, s) for n, d, s in re.findall(pattern, input_part)}
        found_outputs = {n: (d, s) for n, d, s in re.findall(pattern, output_part)}
        assert found_inputs == inputs, name
        assert found_outputs == outputs, name
        assert "signature_def['model_info']" in text
        listed_ops = ast.literal_eval(re.search(r"contains the following ops: (\{.*\})", text).group(1))
        assert not listed_ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def test_graphs_hold_standard_ops_only(exported, tmp_path):
    for name in SERVABLES:
        folder = exported / name / str(EXPORT_VERSION)
        assert nonstandard_ops(folder) == []
        assert {"Conv2D", "ReadVariableOp"} <= graph_ops(folder)  # the walk reaches into the function library
    assert "StatelessWhile" in graph_ops(exported / "phase" / str(EXPORT_VERSION))  # the composite's per-sample noise

    # the check does catch a Python callback
    module = tf.Module()
    module.serve = tf.function(
        lambda x: {"y": tf.py_function(np.square, [x], tf.float32)}, input_signature=[tf.TensorSpec([None])]
    )
    tf.saved_model.save(module, str(tmp_path / "bad"), signatures={"serving_default": module.serve})
    assert nonstandard_ops(tmp_path / "bad") == ["EagerPyFunc"]


def test_variables_are_stored_once(exported, networks):
    def weight_bytes(*models):
        return sum(int(np.prod(v.shape)) * 4 for model in models for v in model.variables)

    expected = {
        "interpolator": weight_bytes(networks["interpolator"]),
        "phase": weight_bytes(networks["phase"]),
        "twin": weight_bytes(networks["interpolator"], networks["phase"]),
    }
    for name, size in expected.items():
        stored = (exported / name / str(EXPORT_VERSION) / "variables" / "variables.data-00000-of-00001").stat().st_size
        # Keras' ExportArchive would store 2×; the file also holds the object graph, about 100 bytes per
        # variable (a tenth of the tiny phase generator's bytes, with its batch norm per recurrent step)
        assert size <= stored < 1.5 * size, (name, stored, size)


def test_interpolator_and_phase_match_keras(exported, networks):
    rng = np.random.default_rng(0)
    interpolator_inputs = {
        "magnitudes": rng.uniform(-1, 1, (5, CROP, CROP, 2)).astype(np.float32),
        "masks": (rng.random((5, CROP, CROP, 2)) > 0.5).astype(np.float32),
        "condition": np.array([[0, 1, 4], [4, 6, 8], [8, 9, 12], [45, 48, 50], [10, 11, 12]], np.float32) / 50,
    }
    expected = networks["interpolator"](interpolator_inputs, training=False)
    got = served(exported, "interpolator")(**{k: tf.constant(v) for k, v in interpolator_inputs.items()})
    for key in ("magnitude", "mask"):
        assert np.abs(got[key].numpy() - expected[key].numpy()).max() <= 1e-5

    phase_inputs = {
        "magnitudes": rng.uniform(-1, 1, (6, CROP, CROP, 5)).astype(np.float32),
        "position": rng.uniform(0, 1, (6, 1)).astype(np.float32),
        "seed": np.array([[1, i] for i in range(6)], np.int32),
    }
    phase_inputs["magnitudes"][:, :8] = -1.0  # a background band, where the seeded noise shows
    expected = networks["phase"](phase_inputs, training=False)["phase"].numpy()
    got = served(exported, "phase")(**{k: tf.constant(v) for k, v in phase_inputs.items()})["phase"].numpy()
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize(("k", "frames"), [(0, 20), (3, 50), (6, 50), (4, 23)])
def test_twin_graph_equals_the_python_pipeline(exported, tiny_models_dir, k, frames):
    from keras_hdl.synthesis import load_local_models, synthesize_crops

    models = load_local_models(tiny_models_dir)
    rng = np.random.default_rng(k)
    kept = len(range(0, frames, k + 1))
    magnitudes = rng.uniform(-1, 1, (2, kept, CROP, CROP)).astype(np.float32)
    magnitudes[:, :, :6] = -1.0  # background rows
    masks = (rng.random((2, kept, CROP, CROP)) > 0.7).astype(np.float32)
    python = synthesize_crops(magnitudes, masks, k, frames, 21, models.interpolator, models.phase)
    graph = served(exported, "twin")(
        magnitudes=tf.constant(magnitudes), masks=tf.constant(masks), k=tf.constant(k), frames=tf.constant(frames),
        seed=tf.constant(21),
    )  # fmt: skip
    assert graph["magnitude"].shape == (2, frames, CROP, CROP)
    for key in ("magnitude", "mask", "phase"):
        assert np.abs(graph[key].numpy() - getattr(python, key)).max() <= 1e-5, key


def test_twin_graph_refuses_inconsistent_frames(exported):
    twin = served(exported, "twin")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"ceil\(frames / \(k \+ 1\)\)"):
        twin(
            magnitudes=tf.zeros([1, 5, CROP, CROP]), masks=tf.zeros([1, 5, CROP, CROP]), k=tf.constant(3),
            frames=tf.constant(50), seed=tf.constant(0),
        )  # fmt: skip


def test_model_info_signature(exported, networks):
    info_fn = tf.saved_model.load(str(exported / "phase" / str(EXPORT_VERSION))).signatures["model_info"]
    info = json.loads(info_fn(request=tf.constant(0))["model_info"].numpy().decode())
    assert info["crop_size"] == CROP and info["pixel_spacing_mm"] == [2.5, 2.5] and info["frames"] == 50
    assert info["composite"] is True
    assert info["background_mean"] == pytest.approx(networks["phase"].background_mean)
    assert info["models_version"].startswith("tiny-")
    assert json.loads((exported / "tflite" / str(EXPORT_VERSION) / "model_info.json").read_text()) == info


def test_existing_version_and_wrong_models_are_refused(exported, tmp_path):
    before = sorted(p.relative_to(exported) for p in exported.rglob("*"))
    again = CliRunner().invoke(main, ["export", "--savedmodel", str(exported), "--version", str(EXPORT_VERSION),
                                      "--model", str(tmp_path)])  # fmt: skip
    assert again.exit_code == 2 and f"pass --version {EXPORT_VERSION + 1}" in again.output
    assert sorted(p.relative_to(exported) for p in exported.rglob("*")) == before

    out = tmp_path / "served"
    wrong = CliRunner().invoke(main, ["export", "--savedmodel", str(out), "--model", str(tmp_path)])
    assert wrong.exit_code == 2 and "not a keras-hdl models folder" in wrong.output
    assert not out.exists() and not list(tmp_path.glob(".served*"))


def test_model_info_carries_the_phase_networks_references():
    """TF Serving's `connect` rebuilds the synthesizer from this JSON: a network's venc and frame interval
    references must reach it (values by hand), and a network blind to them says null."""
    from keras_hdl.config import build_from_config, load_preset
    from keras_hdl.export.serving import served_info
    from keras_hdl.model_store import ModelInfo

    info = ModelInfo(preset="tiny", crop_size=CROP, pixel_spacing_mm=(2.5, 2.5), frames=50)
    model = load_preset("tiny").phase.model
    aware = build_from_config(model, velocity_reference_cm_s=(20, 20, 30), frame_interval_reference_ms=20)
    served = served_info(info, "tiny-x", aware)
    assert served["velocity_reference_cm_s"] == [20.0, 20.0, 30.0] and served["frame_interval_reference_ms"] == 20.0
    blind = served_info(info, "tiny-x", build_from_config(model))
    assert blind["velocity_reference_cm_s"] is None and blind["frame_interval_reference_ms"] is None
