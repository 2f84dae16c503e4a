"""Back ends of the local networks: TFLite and XLA twins within tolerance of fp32 Keras; which one auto picks (timed).

Only back ends are compared with each other (never with stored outputs), so the tests hold for any
shipped weights; tolerances and their justification: :data:`keras_hdl.runtime.BACKEND_TOLERANCE`.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest
from shipped_crops import FRAMES, K, assert_phase_within

from keras_hdl import runtime
from keras_hdl.errors import InputError
from keras_hdl.runtime import BACKEND_TOLERANCE, TFLITE_INSTALL, backend_candidates
from keras_hdl.synthesis import load_local_models, resolve_models_folder, synthesize_crops
from keras_hdl.synthesis.pipeline import kept_frames

CURVES_ATOL_MM_S = 0.05
"""The twins' global velocity curves (mm/s): 2e-4 normalised phase × venc 25 cm/s, i.e. 10× the myocardial-mean
tolerance and ~1000× what the shipped weights measured, and ≪ the 1 mm/s the reports print."""


@pytest.fixture
def no_litert(monkeypatch):
    """ai-edge-litert not installed: its interpreter module fails to import."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)


def twin_crops(backend, crops):
    models = load_local_models(resolve_models_folder(), backend=backend)
    return synthesize_crops(*crops, K, FRAMES, 4, models.interpolator, models.phase)


@pytest.mark.parametrize("backend", ["tflite", pytest.param("xla", marks=pytest.mark.slow)])
def test_fp32_backend_twin_within_tolerance_of_keras(shipped_crops, backend):
    keras, other = twin_crops("keras", shipped_crops), twin_crops(backend, shipped_crops)
    assert other.magnitude.dtype == other.phase.dtype == other.mask.dtype == np.float32
    assert np.abs(other.magnitude - keras.magnitude).max() <= BACKEND_TOLERANCE["magnitude_max_abs"]
    dropped = np.setdiff1d(np.arange(FRAMES), kept_frames(FRAMES, K))
    assert np.abs(other.mask[:, dropped] - keras.mask[:, dropped]).max() <= BACKEND_TOLERANCE["mask_max_abs"]

    background = assert_phase_within(other, keras, BACKEND_TOLERANCE)
    # the background noise comes from the same seeds and kernel; only μ + σ·noise may be fused (one rounding)
    assert background.any() and np.abs(other.phase - keras.phase)[background].max() <= 1e-6


def test_tflite_twin_velocity_curves_match_keras():
    """The twins of TFLite and of Keras fp32, through the user's path, assessed."""
    from keras_hdl.assessment import assess_series
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig
    from keras_hdl.synthesis import downsample, synthesize_twin

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=FRAMES, size=128, seed=4), 0)
    curves, runs_on = {}, {}
    for backend in ("keras", "tflite"):
        models = load_local_models(resolve_models_folder(), backend=backend)
        twin = synthesize_twin(downsample(series, K), K, models, seed=3, frames=FRAMES)
        curves[backend], runs_on[backend] = assess_series(twin).global_curves, models.backend  # (S, 3, T) mm/s
    assert runs_on == {"keras": "Keras fp32", "tflite": f"TFLite fp32 (ai-edge-litert {runtime.litert_version()})"}
    assert np.abs(curves["keras"]).max() > 10  # real curves (peaks of several cm/s)
    np.testing.assert_allclose(curves["tflite"], curves["keras"], rtol=0, atol=CURVES_ATOL_MM_S)


def test_auto_times_keras_and_tflite_on_a_cpu_where_litert_imports(monkeypatch):
    assert runtime.litert_version() is not None  # the test environment installs it
    monkeypatch.setattr(runtime, "visible_gpus", lambda: [])
    assert backend_candidates("auto", "fp32") == ("keras", "tflite")
    assert backend_candidates("auto", "bf16") == ("keras",)  # bf16 is a Keras dtype policy
    assert backend_candidates("keras", "bf16") == ("keras",) and backend_candidates("xla", "fp32") == ("xla",)
    assert backend_candidates("tflite", "fp32") == ("tflite",)
    assert runtime.backend_description("tflite", "fp32") == f"TFLite fp32 (ai-edge-litert {runtime.litert_version()})"
    assert runtime.backend_description("xla", "fp32") == "XLA-compiled Keras fp32"
    assert runtime.backend_description("keras", "bf16") == "Keras bf16"


def test_auto_runs_keras_on_a_gpu(monkeypatch):
    """TFLite would run on the CPU beside an idle GPU."""
    monkeypatch.setattr(runtime, "visible_gpus", lambda: ["GPU:0"])
    assert backend_candidates("auto", "fp32") == ("keras",)
    assert backend_candidates("tflite", "fp32") == ("tflite",)  # asked for by name, it runs


def test_auto_falls_back_to_keras_without_litert(no_litert):
    assert runtime.litert_version() is None
    assert backend_candidates("auto", "fp32") == ("keras",)
    with pytest.raises(InputError, match=r"--backend tflite needs ai-edge-litert.*pip install keras-hdl\[tflite\]"):
        backend_candidates("tflite", "fp32")


@pytest.mark.parametrize("backend", ["tflite", "xla"])
def test_fp32_only_backends_refuse_bf16(backend):
    with pytest.raises(InputError, match=f"--backend {backend} computes in fp32 only"):
        backend_candidates(backend, "bf16")


def test_unknown_backend_is_refused():
    with pytest.raises(InputError, match="--backend: use one of"):
        backend_candidates("onnx", "fp32")
    assert "keras-hdl[tflite]" in TFLITE_INSTALL


class DelayedPredictor:
    """A predictor that waits ``seconds`` before each call of the real one: a slower back end."""

    def __init__(self, predictor, seconds):
        self.predictor, self.seconds = predictor, seconds

    def __call__(self, inputs):
        time.sleep(self.seconds)
        return self.predictor(inputs)


@pytest.mark.parametrize("slower", ["keras", "tflite"])
def test_auto_keeps_the_faster_back_end_once_per_machine_and_weights(tiny_models_dir, monkeypatch, tmp_path, slower):
    """The probe times real twins: the back end made 0.5 s per phase call slower loses, by the probe's own
    figures; the choice is kept (a second load reads it without timing), a damaged record is measured again."""
    from keras_hdl.synthesis import backends, networks

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "visible_gpus", lambda: [])
    built = []
    real_twin_models = networks.twin_models

    def twin_models(*args):
        models = real_twin_models(*args)
        built.append(args[-1])
        if args[-1] == slower:
            models.phase.predictor = DelayedPredictor(models.phase.predictor, 0.5)
        return models

    monkeypatch.setattr(networks, "twin_models", twin_models)
    models = load_local_models(tiny_models_dir, backend="auto")
    faster = {"keras": "tflite", "tflite": "keras"}[slower]
    stated = runtime.backend_description(faster, "fp32")
    assert models.backend.startswith(f"{stated} (--backend auto: the fastest here, ")
    assert built == ["keras", "tflite", faster]  # both timed, then the one kept
    record = backends.choice_path(models.version)
    assert record.parent == tmp_path / "cache" / "backend-choice" and record.name.startswith(models.version)
    kept = json.loads(record.read_text())
    assert kept["backend"] == faster and kept["seconds"][slower] > max(0.5, kept["seconds"][faster])  # ≥ 1 delay
    assert f"{kept['seconds'][faster]:.2f} s" in models.backend and f"{kept['seconds'][slower]:.2f} s" in models.backend

    def no_probe(models):
        raise AssertionError("timed again")

    probe_seconds = backends.probe_seconds
    monkeypatch.setattr(backends, "probe_seconds", no_probe)
    built.clear()
    assert load_local_models(tiny_models_dir, backend="auto").backend == models.backend
    assert built == [faster]  # only the one kept

    monkeypatch.setattr(backends, "probe_seconds", probe_seconds)
    not_numbers, not_a_mapping = {"keras": "fast", "tflite": 1.0}, ["keras", "tflite"]
    for damaged in ("{damaged", *(json.dumps(kept | {"seconds": odd}) for odd in (not_numbers, not_a_mapping))):
        record.write_text(damaged)
        load_local_models(tiny_models_dir, backend="auto")
        seconds = json.loads(record.read_text())["seconds"]
        assert set(seconds) == {"keras", "tflite"} and all(isinstance(value, float) for value in seconds.values())


def test_tflite_flatbuffers_are_converted_once_per_weights(tiny_models_dir, monkeypatch, tmp_path):
    from keras_hdl.synthesis import backends
    from keras_hdl.synthesis.networks import inference_networks, load_local_networks, models_version

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    info, networks = load_local_networks(tiny_models_dir)
    networks = inference_networks(networks)  # the tiny interpolator splits: encoder and decoder
    version = models_version(tiny_models_dir, info)
    first = backends.tflite_flatbuffers(networks, info.crop_size, version)
    folder = backends.tflite_folder(version)
    assert folder.parent == tmp_path / "cache" / "tflite" and folder.name.startswith(version)
    # a cache of the graphs before the split (whole interpolator) lives in another folder: never read
    assert folder.name.endswith(f"-graphs{backends.TFLITE_GRAPHS}") and backends.TFLITE_GRAPHS >= 2
    assert sorted(path.name for path in folder.iterdir()) == [
        "interpolator_decoder_float32.tflite",
        "interpolator_encoder_float32.tflite",
        "phase_float32.tflite",
    ]

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr("keras_hdl.export.tflite.network_flatbuffers", no_conversion)
    assert backends.tflite_flatbuffers(networks, info.crop_size, version) == first
