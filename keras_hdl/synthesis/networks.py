"""The two networks a twin needs, local or served, behind one interface.

:class:`TwinModels` holds an interpolator (any
:class:`~keras_hdl.interpolation.plan.Interpolator`), a :class:`PhaseSynthesizer` and
what the networks expect (crop size, pixel spacing, background noise, version).
:func:`load_local_models` builds it from a models folder (:mod:`keras_hdl.model_store`);
:func:`keras_hdl.export.serving.connect` builds it from a TF Serving deployment, so the
pipeline sends the very same batches to either.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import Interpolator
from keras_hdl.model_store import NETWORK_FILES, SHIPPED_MODELS, ModelInfo, load_models, read_model_info
from keras_hdl.phase_inputs import cycle_phase_inputs
from keras_hdl.precision import DEFAULT_PRECISION, DTYPE_POLICIES, dtype_policy
from keras_hdl.predictors import DEFAULT_BATCH_SIZE, Predictor, Progress, predict_in_batches
from keras_hdl.runtime import backend_candidates, backend_description, resolve_precision
from keras_hdl.series import displacement_venc, rescale_phase_venc

INTERPOLATOR_INPUTS = ("condition", "magnitudes", "masks")
PHASE_INPUTS = ("magnitudes",)


class PhaseSynthesizer:
    """Phase of frame t from its n neighbouring magnitude frames, through a phase network's predictor.

    ``synthesize(magnitudes (N, C, C, n) in [−1, 1], seeds (N, 2) int32, positions (N, 1) t/T)
    -> (N, C, C, 3)`` normalised x, y, z phase in [−1, 1]; :meth:`synthesize_cycles` makes those
    inputs for every frame of whole cycles (:func:`keras_hdl.phase_inputs.cycle_phase_inputs`).
    With ``composite`` the network takes the ``seed`` input (its background noise); a vanilla
    generator ignores the seeds. ``neighbours`` (3 or 5) and ``cycle_position`` describe what
    the network sees; ``velocity_reference_cm_s`` the venc and ``frame_interval_reference_ms`` the frame
    interval its output is expressed at (:meth:`at_scan` converts it to a scan's; None: a network blind to
    them, output taken as it is).
    """

    def __init__(
        self,
        predictor: Predictor,
        composite: bool,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
        neighbours: int = 3,
        cycle_position: bool = False,
        velocity_reference_cm_s: tuple[float, float, float] | None = None,
        frame_interval_reference_ms: float | None = None,
    ):
        self.predictor = predictor
        self.composite = composite
        self.batch_size = batch_size
        self.progress = progress
        self.neighbours = neighbours
        self.cycle_position = cycle_position
        self.velocity_reference_cm_s = velocity_reference_cm_s
        self.frame_interval_reference_ms = frame_interval_reference_ms

    @classmethod
    def for_network(
        cls, predictor: Predictor, network, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> PhaseSynthesizer:
        """The synthesizer of a :class:`~keras_hdl.models.PhaseGenerator` run by ``predictor``."""
        return cls(
            predictor,
            network.composite,
            batch_size,
            progress,
            network.neighbours,
            network.cycle_position,
            network.velocity_reference_cm_s,
            network.frame_interval_reference_ms,
        )

    def synthesize(self, magnitudes: np.ndarray, seeds: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        inputs = {"magnitudes": np.asarray(magnitudes, np.float32)}
        if self.cycle_position:
            if positions is None:
                raise InputError("this phase network also needs each frame's cycle position t/T")
            inputs["position"] = np.asarray(positions, np.float32)
        if self.composite:
            inputs["seed"] = np.asarray(seeds, np.int32)
        return predict_in_batches(self.predictor, inputs, self.batch_size, self.progress)["phase"]

    def at_scan(self, phase: np.ndarray, venc, frame_interval_ms) -> np.ndarray:
        """Synthesised phase (..., 3) → the phase of the same velocities at a scan's ``venc`` (..., 3) cm/s.

        ``frame_interval_ms`` (...,) is the scan's RR / T (NaN where unknown: taken as the reference,
        which :meth:`assumes_frame_interval` lets callers say).
        """
        if self.velocity_reference_cm_s is None:
            return phase
        output_venc = np.asarray(self.velocity_reference_cm_s, np.float32)
        if self.frame_interval_reference_ms is not None:
            reference = self.frame_interval_reference_ms
            interval = np.nan_to_num(np.asarray(frame_interval_ms, np.float64), nan=reference)
            output_venc = displacement_venc(output_venc, interval, reference)
        return rescale_phase_venc(phase, output_venc, venc)

    def assumes_frame_interval(self, rr_interval_ms: float | None) -> bool:
        """Whether a scan of this RR interval (None: unknown) gets the reference frame interval instead of RR / T."""
        return rr_interval_ms is None and self.frame_interval_reference_ms is not None

    def synthesize_cycles(self, magnitude: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Every frame of S cycles: magnitude (S, T, C, C), seeds (S·T, 2) slice-major → (S, T, C, C, 3)."""
        slices, frames, size = magnitude.shape[:3]
        inputs = cycle_phase_inputs(magnitude, self.neighbours, self.cycle_position)
        phases = self.synthesize(inputs["magnitudes"], seeds, inputs.get("position"))
        return phases.reshape(slices, frames, size, size, 3)


@dataclasses.dataclass(frozen=True)
class TwinModels:
    """Everything synthesis needs from the networks.

    Attributes:
        interpolator: fills the dropped frames (magnitude and mask).
        phase: synthesises the three phase images of every frame.
        crop_size: side of the networks' square LV crop, pixels.
        pixel_spacing_mm: (row, column) spacing the networks were trained at, mm.
        frames: frames per cycle of the training data.
        background_mean, background_std: the phase network's background Gaussian (normalised phase),
            also used for the phase outside the crop.
        version: the models' version string (written into the twin's provenance and DICOM).
        precision: the networks' compute precision, "fp32" or "bf16".
        backend: what runs the networks, in words (e.g. ``TFLite fp32 (ai-edge-litert 2.3.0)``).
    """

    interpolator: Interpolator
    phase: PhaseSynthesizer
    crop_size: int
    pixel_spacing_mm: tuple[float, float]
    frames: int
    background_mean: float
    background_std: float
    version: str
    precision: str = "fp32"
    backend: str = "Keras fp32"


def models_version(folder: str | Path, info: ModelInfo) -> str:
    """``<preset>-<first 10 hex digits of the SHA-256 of both network files>``: names exactly these weights."""
    digest = hashlib.sha256()
    for file_name in NETWORK_FILES.values():
        path = Path(folder) / file_name
        if path.is_file():
            digest.update(path.read_bytes())
    return f"{info.preset}-{digest.hexdigest()[:10]}"


def resolve_models_folder(model: str | Path | None = None, run: str | Path | None = None) -> Path:
    """The models folder from ``--model`` or ``--run`` (its ``models/``), else the shipped weights."""
    if model is not None and run is not None:
        raise InputError("give either --model MODELS_DIR or --run RUN_DIR, not both")
    if run is not None:
        return Path(run) / "models"
    if model is not None:
        return Path(model)
    if not (SHIPPED_MODELS / "model_info.json").is_file():
        raise InputError(
            f"no shipped weights in this installation ({SHIPPED_MODELS} is missing); pass --model MODELS_DIR "
            "(the models/ folder of `keras-hdl train`)"
        )
    return SHIPPED_MODELS


def check_network_kinds(folder: Path, networks: dict) -> None:
    """Refuse a models folder whose files hold the wrong kind of network (e.g. swapped files)."""
    from keras_hdl.models import PhaseGenerator, TemporalInterpolator, VanillaR2UNetInterpolator

    expected = {
        "interpolator": ((TemporalInterpolator, VanillaR2UNetInterpolator), "an interpolation network"),
        "phase": ((PhaseGenerator,), "a phase generator"),
    }
    for name, model in networks.items():
        classes, what = expected[name]
        if not isinstance(model, classes):
            raise InputError(
                f"{folder / NETWORK_FILES[name]}: holds a {type(model).__name__}, not {what}; this is not a "
                "keras-hdl models folder of the right kind (check which files were copied where)"
            )


def load_local_networks(folder: str | Path) -> tuple[ModelInfo, dict]:
    """(info, {"interpolator": model, "phase": model}) of a models folder, kinds checked."""
    folder = Path(folder)
    read_model_info(folder)  # a clear error for a folder of the wrong kind before loading anything
    info, networks = load_models(folder, "interpolator", "phase")
    check_network_kinds(folder, networks)
    return info, networks


def with_dtype_policy(model, policy: str):
    """A copy of a keras-hdl network built under Keras dtype ``policy`` (e.g. ``mixed_bfloat16``), same weights.

    The networks' configs hold their architecture only, so every layer of the copy takes the policy
    (except those pinned to float32: the composite's seeded noise and the interpolator's final sum).
    """
    with dtype_policy(policy):
        copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


@functools.lru_cache(maxsize=2)
def _loaded_networks(folder: Path, stamp: tuple) -> tuple[ModelInfo, dict]:
    """:func:`load_local_networks`, kept while the folder's files (``stamp``) are unchanged (every back end and
    precision starts from the same networks)."""
    return load_local_networks(folder)


@functools.lru_cache(maxsize=4)
def _loaded_predictors(
    folder: Path, stamp: tuple, precision: str, backend: str
) -> tuple[ModelInfo, dict, dict[str, Predictor]]:
    """Networks and predictors of a models folder at ``precision`` ("fp32" or "bf16") on ``backend`` (resolved),
    kept while its files (``stamp``) are unchanged."""
    from keras_hdl.synthesis.backends import backend_predictors

    info, networks = _loaded_networks(folder, stamp)
    policy = DTYPE_POLICIES[precision]
    running = networks if policy == "float32" else {name: with_dtype_policy(m, policy) for name, m in networks.items()}
    predictors = backend_predictors(backend, inference_networks(running), info.crop_size, models_version(folder, info))
    return info, networks, predictors


def inference_networks(networks: dict) -> dict:
    """The models inference runs for {"interpolator": network, "phase": network}: the phase network and the
    interpolator's :func:`~keras_hdl.models.inference_parts` (its encoder and decoder where it splits)."""
    from keras_hdl.models import inference_parts

    return inference_parts(networks["interpolator"]) | {"phase": networks["phase"]}


def _files_stamp(folder: Path) -> tuple:
    return tuple(
        (path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(folder.iterdir()) if path.is_file()
    )


def load_local_models(
    folder: str | Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    precision: str = DEFAULT_PRECISION,
    backend: str = "keras",
) -> TwinModels:
    """:class:`TwinModels` running the networks of a models folder in this process.

    ``precision``: ``"fp32"`` (the default: the same numbers on every machine and as the exported
    graphs), ``"bf16"`` (about 1.5× faster on CPUs with AVX512_BF16; within
    :data:`keras_hdl.runtime.BF16_TOLERANCE` of fp32) or ``"auto"`` (bf16 where the hardware has it).
    ``backend``: ``"keras"`` (the default here), ``"xla"``, ``"tflite"`` (fp32 only; within
    :data:`keras_hdl.runtime.BACKEND_TOLERANCE` of Keras) or ``"auto"`` (``synthesize``'s default: the
    fastest of :func:`keras_hdl.runtime.backend_candidates`, timed once per machine and weights by
    :func:`keras_hdl.synthesis.backends.fastest_backend`, which :attr:`TwinModels.backend` then states).
    Loaded networks and their graphs are reused by later calls for the same, unchanged folder, precision and
    back end (e.g. an evaluation synthesising many scans).
    An interpolator whose condition joins at the bottleneck runs as its encoder, once per gap, and its
    decoder, once per dropped frame (:func:`keras_hdl.models.inference_parts`), on every back end.
    """
    from keras_hdl.interpolation.network import network_interpolator

    precision = resolve_precision(precision)
    candidates = backend_candidates(backend, precision)
    folder = Path(folder).resolve()
    info = read_model_info(folder)  # a clear error for a folder of the wrong kind
    stamp = _files_stamp(folder)

    def models_on(name: str, shown: Progress | None = None) -> TwinModels:
        _, networks, predictors = _loaded_predictors(folder, stamp, precision, name)
        interpolator = network_interpolator(predictors, batch_size=batch_size, progress=shown)
        phase = PhaseSynthesizer.for_network(predictors["phase"], networks["phase"], batch_size, shown)
        return twin_models(folder, info, interpolator, phase, networks["phase"], precision, name)

    if len(candidates) == 1:
        return models_on(candidates[0], progress)
    from keras_hdl.synthesis.backends import fastest_backend

    choice = fastest_backend(candidates, models_on, models_version(folder, info))
    return dataclasses.replace(models_on(choice.backend, progress), backend=choice.describe())


def twin_models(
    folder: Path,
    info: ModelInfo,
    interpolator: Interpolator,
    phase: PhaseSynthesizer,
    phase_network,
    precision: str,
    backend: str = "keras",
) -> TwinModels:
    """:class:`TwinModels` of a models folder's ``info`` with these runners of its networks."""
    return TwinModels(
        interpolator=interpolator,
        phase=phase,
        crop_size=info.crop_size,
        pixel_spacing_mm=tuple(info.pixel_spacing_mm),
        frames=info.frames,
        background_mean=phase_network.background_mean,
        background_std=phase_network.background_std,
        version=models_version(folder, info),
        precision=precision,
        backend=backend_description(backend, precision),
    )
