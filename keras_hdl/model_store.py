"""A *models folder*: the trained networks a digital twin needs, and what they were trained on.

Layout (written by ``keras-hdl train`` into ``RUN_DIR/models/``, shipped in
``keras_hdl/weights/``, read by ``synthesize``, ``export`` and ``evaluate``)::

    models/
      model_info.json      # this module's ModelInfo: kind marker, preset, crop, spacing, frames, metrics
      interpolator.keras   # the temporal interpolator (TemporalInterpolator or a baseline)
      phase.keras          # the phase generator (with its fitted background noise)

Either network may be missing (a run that trained one module); :func:`load_models`
says which one is needed when it is.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from keras_hdl import __version__
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, write_json

INFO_FILE = "model_info.json"
FORMAT = "keras-hdl-models"
NETWORK_FILES = {"interpolator": "interpolator.keras", "phase": "phase.keras"}
VARIANT_NETWORKS = {"hdl": ("interpolator", "phase"), "vanilla": ("interpolator", "phase"), "gan": ("interpolator",)}
"""The networks a models folder of each variant holds (``keras-hdl train --variant``, docs/design.md §2): the HDL
networks; the vanilla baselines (one-head one-tail R2UNet, pix2pix without the composite); the GAN temporal
baseline (the HDL interpolator trained with a PatchGAN; the phase model is a GAN already)."""
VARIANTS = tuple(VARIANT_NETWORKS)
SHIPPED_MODELS = Path(__file__).parent / "weights"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the networks of a models folder expect and how well they did.

    Attributes:
        preset: the preset name they were built from.
        crop_size: side of the square LV crop the networks see, pixels.
        pixel_spacing_mm: (row, column) spacing of the training data, mm.
        frames: frames per cycle of the training data (the condition maps are τ/T).
        validation: validation metrics per network, e.g. {"interpolator": {"dice": 0.9}}.
        command: the command that produced them.
        variant: ``hdl`` (the paper's networks) or a baseline (``vanilla``, ``gan``; see ``keras-hdl train --variant``).
        keras_hdl_version: the package version that wrote them.
    """

    preset: str
    crop_size: int
    pixel_spacing_mm: tuple[float, float]
    frames: int
    validation: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    command: str = ""
    variant: str = "hdl"
    keras_hdl_version: str = __version__

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **dataclasses.asdict(self)}


def save_models(folder: str | Path, info: ModelInfo, **networks) -> Path:
    """Write ``networks`` (``interpolator=``, ``phase=`` Keras models) and ``info`` into ``folder`` atomically."""
    unknown = set(networks) - set(NETWORK_FILES)
    if unknown:
        raise InputError(f"save_models: unknown networks {sorted(unknown)}; expected {sorted(NETWORK_FILES)}")
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for name, model in networks.items():
            if model is not None:
                model.save(tmp / NETWORK_FILES[name])
        write_json(tmp / INFO_FILE, info.as_json(), newline=False)
    return folder


def read_model_info(folder: str | Path) -> ModelInfo:
    """The :class:`ModelInfo` of a models folder; a clear error for anything else."""
    folder = Path(folder)
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise InputError(
            f"{folder}: not a keras-hdl models folder (no {INFO_FILE}); pass the `models/` folder of a training "
            "run (keras-hdl train) or leave --model out to use the shipped weights"
        )
    try:
        data = json.loads(info_path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{info_path}: corrupt model info ({err})") from err
    if data.pop("format", None) != FORMAT:
        raise InputError(f"{info_path}: not a keras-hdl model info file (format is not {FORMAT!r})")
    try:
        data["pixel_spacing_mm"] = tuple(data["pixel_spacing_mm"])
        return ModelInfo(**data)
    except (TypeError, KeyError) as err:
        raise InputError(f"{info_path}: incomplete or unknown model info fields ({err})") from err


def load_models(folder: str | Path, *names: str) -> tuple[ModelInfo, dict]:
    """Load the named networks (default: both) of a models folder → (info, {name: keras.Model})."""
    import keras

    import keras_hdl.models  # noqa: F401  (registers the custom classes for deserialisation)

    folder = Path(folder)
    info = read_model_info(folder)
    models = {}
    for name in names or tuple(NETWORK_FILES):
        path = folder / NETWORK_FILES[name]
        if not path.is_file():
            raise InputError(f"{folder}: has no {name} network ({path.name}); train it with `keras-hdl train`")
        try:
            models[name] = keras.saving.load_model(path, compile=False)
        except InputError as err:  # e.g. a network of an older block layout: the message names the fix
            raise InputError(f"{path}: {err}") from None
        except Exception as err:  # Keras raises many types for a damaged archive
            raise InputError(f"{path}: cannot be loaded as a Keras model ({type(err).__name__}: {err})") from err
    return info, models


def combine_models(sources: dict[str, str | Path], folder: str | Path) -> Path:
    """One models folder from the networks of several (e.g. ``{"interpolator": run1/models, "phase": run2/models}``).

    The sources must agree on what the networks expect (preset, crop, pixel spacing, frames,
    variant); the result's validation figures are each network's own, its command the sources' joined.
    """
    import keras

    import keras_hdl.models  # noqa: F401  (registers the custom classes for deserialisation)

    infos = {name: read_model_info(source) for name, source in sources.items()}
    first = next(iter(infos.values()))
    for name, info in infos.items():
        for field in ("preset", "crop_size", "pixel_spacing_mm", "frames", "variant"):
            if getattr(info, field) != getattr(first, field):
                raise InputError(
                    f"{sources[name]}: its {field} ({getattr(info, field)}) differs from the other models folders' "
                    f"({getattr(first, field)}); combine networks trained alike"
                )
    networks = {
        name: keras.saving.load_model(Path(source) / NETWORK_FILES[name], compile=False)
        for name, source in sources.items()
    }
    info = dataclasses.replace(
        first,
        validation={name: infos[name].validation[name] for name in sources},
        command=" && ".join(dict.fromkeys(info.command for info in infos.values())),
    )
    return save_models(folder, info, **networks)
