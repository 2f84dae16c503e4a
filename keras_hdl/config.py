"""Presets: YAML files turned into objects in one place (docs/design.md §7).

A preset (``configs/<name>.yaml``, installed as ``keras_hdl.configs``) has two sections,
``interpolation`` and ``phase``, each with

- ``model``, ``vanilla_model``, ``discriminator``: ``{class: <registered name>, <constructor arguments>}``,
  built by :func:`build_from_config`;
- ``training``: hyper-parameters (:class:`InterpolationTraining`, :class:`PhaseTraining`).

Every key is checked when the preset loads: an unknown key is an :class:`InputError`
naming the key, where it is, and the keys allowed there. The registry maps class
names to ``module:attribute`` so that loading a preset imports TensorFlow only when a
model section is validated or built.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import MAX_K

REGISTRY = {
    "TemporalInterpolator": "keras_hdl.models.interpolator:TemporalInterpolator",
    "VanillaR2UNetInterpolator": "keras_hdl.models.interpolator:VanillaR2UNetInterpolator",
    "PhaseGenerator": "keras_hdl.models.phase:PhaseGenerator",
    "PatchDiscriminator": "keras_hdl.models.phase:PatchDiscriminator",
}
CLASS_KEY = "class"
MODEL_KEYS = ("model", "vanilla_model", "discriminator")
DISCRIMINATOR_MULTIPLE = 16  # the PatchGAN pools four times
PHASE_SELECTIONS = ("velocity", "l1_foreground")


def check_keys(mapping: Mapping, allowed: list[str] | tuple[str, ...], where: str) -> None:
    """Reject keys that are not in ``allowed``, naming the key and the allowed ones."""
    if not isinstance(mapping, Mapping):
        raise InputError(f"{where}: expected a mapping of keys to values, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            raise InputError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(allowed))}")


def registered_class(name: str, where: str) -> type:
    """The class registered under ``name``."""
    if name not in REGISTRY:
        raise InputError(f"{where}.{CLASS_KEY}: unknown class {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    module, attribute = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def _constructor_arguments(cls: type) -> list[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]


def validate_model_config(config: Mapping, where: str) -> None:
    """Check ``{class: name, **arguments}`` against the class's constructor without building it."""
    check_keys(config, [CLASS_KEY, "name", *_constructor_arguments(_class_of(config, where))], where)


def _class_of(config: Mapping, where: str) -> type:
    if not isinstance(config, Mapping) or CLASS_KEY not in config:
        raise InputError(f"{where}: needs a {CLASS_KEY!r} key naming one of {', '.join(sorted(REGISTRY))}")
    return registered_class(config[CLASS_KEY], where)


def build_from_config(config: Mapping, where: str = "model", **overrides: Any) -> Any:
    """Build the object a ``{class: name, **arguments}`` mapping describes; ``overrides`` replace arguments."""
    merged = {**config, **overrides}
    validate_model_config(merged, where)
    cls = _class_of(merged, where)
    return cls(**{key: value for key, value in merged.items() if key != CLASS_KEY})


def _positive(where: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InputError(f"{where}.{name}: need a positive number, got {value!r}")


def _non_negative(where: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"{where}.{name}: need a number >= 0, got {value!r}")


def _betas(where: str, beta_1: float, beta_2: float) -> None:
    for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
        if not isinstance(value, int | float) or not 0 <= value < 1:
            raise InputError(f"{where}.{name}: Adam betas lie in [0, 1), got {value!r}")


def _check_optimization(where: str, training: InterpolationTraining | PhaseTraining) -> None:
    """The settings both modules share: Adam's learning rate and betas, batch, crop and schedule."""
    _positive(where, learning_rate=training.learning_rate)
    _betas(where, training.beta_1, training.beta_2)
    _check_counts(
        where,
        batch_size=training.batch_size,
        crop_size=training.crop_size,
        epochs=training.epochs,
        steps_per_epoch=training.steps_per_epoch,
    )
    recompute = training.recompute_recurrent
    if not isinstance(recompute, bool) and not (isinstance(recompute, int) and recompute > 0):
        raise InputError(
            f"{where}.recompute_recurrent: true, false, or a channel count (recompute the R2 units of at most "
            f"that many channels, e.g. 128), got {recompute!r}"
        )
    rotation = training.max_rotation_deg
    if isinstance(rotation, bool) or not isinstance(rotation, int | float) or not 0 <= rotation <= 180:
        raise InputError(f"{where}.max_rotation_deg: an angle in [0, 180] degrees, got {rotation!r}")
    if not isinstance(training.flips, bool):
        raise InputError(f"{where}.flips: true or false, got {training.flips!r}")
    gamma = training.max_gamma
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 1 <= gamma <= 4:
        raise InputError(f"{where}.max_gamma: a contrast bound in [1, 4] (1: off), got {gamma!r}")
    decay = training.weight_average_decay
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
        raise InputError(
            f"{where}.weight_average_decay: a decay per step in [0, 1) (0: off; 0.998 averages ~500 steps), "
            f"got {decay!r}"
        )


@dataclasses.dataclass(frozen=True)
class InterpolationTraining:
    """Hyper-parameters of the temporal interpolator (docs/design.md §2.1); loss weights are dimensionless.

    ``adversarial_weight`` is used only by the GAN temporal baseline (interpolator + PatchGAN);
    its discriminator uses the same Adam settings. ``lv_padding_px`` dilates the target
    myocardium mask into the ω1 region (pixels). ``recompute_recurrent`` (both modules)
    recomputes the R2 blocks' recurrent steps in the backward pass instead of keeping their
    activations: less training memory for more compute; ``true`` every R2 unit, an int N the units
    of at most N channels (:func:`keras_hdl.models.blocks.set_recompute`).
    ``max_rotation_deg`` (both modules) bounds the random in-plane rotation of the augmentation
    (velocity vectors turn with the images): 180 draws any orientation. ``flips`` adds random x / y
    mirror images; a mirror turns counter-clockwise motion clockwise, so with flips a network must
    read the rotation's sense from the images alone (without them it may also learn the anatomy's
    handedness, which every scan of one viewing convention shares). ``max_gamma`` changes each sample's
    contrast by a γ log-uniform in [1 / max_gamma, max_gamma] (1: off): other sequences make the
    myocardium brighter or darker against the blood than the phantom draws it.
    ``weight_average_decay`` (both modules; 0: off) keeps an exponential moving average of the
    network's weights, which validation scores and the run saves (:mod:`keras_hdl.training.averaging`).
    """

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    batch_size: int = 32
    crop_size: int = 256
    k_values: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    epochs: int = 100
    steps_per_epoch: int = 500
    mae_weight: float = 1.0
    mae_w1_weight: float = 1.0
    mae_w2_weight: float = 1.0
    dice_weight: float = 1.0
    low_weight: float = 0.1
    lv_padding_px: int = 4
    adversarial_weight: float = 0.01
    recompute_recurrent: bool | int = False
    max_rotation_deg: float = 10.0
    flips: bool = True
    max_gamma: float = 1.0
    weight_average_decay: float = 0.0

    def __post_init__(self) -> None:
        where = "interpolation.training"
        _check_optimization(where, self)
        _non_negative(
            where,
            mae_weight=self.mae_weight,
            mae_w1_weight=self.mae_w1_weight,
            mae_w2_weight=self.mae_w2_weight,
            dice_weight=self.dice_weight,
            lv_padding_px=self.lv_padding_px,
            adversarial_weight=self.adversarial_weight,
        )
        if not 0 <= self.low_weight <= 1:
            raise InputError(f"{where}.low_weight: the weight outside ω regions lies in [0, 1], got {self.low_weight}")
        k_values = tuple(self.k_values)
        if not k_values or not all(isinstance(k, int) and 1 <= k <= MAX_K for k in k_values):
            raise InputError(f"{where}.k_values: need K values in 1..{MAX_K} (frames dropped), got {list(k_values)}")
        object.__setattr__(self, "k_values", k_values)


@dataclasses.dataclass(frozen=True)
class PhaseTraining:
    """Hyper-parameters of phase synthesis (docs/design.md §2.2): pix2pix, λ = 100 on both L1 terms.

    One Adam setting for both networks (lr 2e-4, β1 0.5: standard pix2pix).
    ``velocity_l1_weight`` weighs the L1 on the myocardial mean radial / circumferential /
    longitudinal velocity of each frame (beyond the paper; 0 turns it off). ``selection``
    picks the best epoch on the validation subjects: ``velocity`` (the twin's velocity
    curves: 1 − overall Pearson, ½ (1 − circumferential Pearson) and the mean relative PSV / PDV error
    of the radial and longitudinal components, lower is better) or ``l1_foreground`` (pixel L1 alone).
    """

    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    batch_size: int = 12
    crop_size: int = 256
    epochs: int = 100
    steps_per_epoch: int = 500
    adversarial_weight: float = 1.0
    foreground_l1_weight: float = 100.0
    myocardium_l1_weight: float = 100.0
    velocity_l1_weight: float = 0.0
    selection: str = "velocity"
    recompute_recurrent: bool | int = False
    max_rotation_deg: float = 10.0
    flips: bool = True
    max_gamma: float = 1.0
    weight_average_decay: float = 0.0

    def __post_init__(self) -> None:
        where = "phase.training"
        _check_optimization(where, self)
        _non_negative(
            where,
            adversarial_weight=self.adversarial_weight,
            foreground_l1_weight=self.foreground_l1_weight,
            myocardium_l1_weight=self.myocardium_l1_weight,
            velocity_l1_weight=self.velocity_l1_weight,
        )
        if self.selection not in PHASE_SELECTIONS:
            raise InputError(f"{where}.selection: choose one of {', '.join(PHASE_SELECTIONS)}, got {self.selection!r}")


def _check_counts(where: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{where}.{name}: need a positive integer, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Section:
    """One module's networks (``{class: ..., ...}`` mappings) and training hyper-parameters."""

    model: dict
    vanilla_model: dict
    discriminator: dict
    training: InterpolationTraining | PhaseTraining


@dataclasses.dataclass(frozen=True)
class Preset:
    """A whole preset: ``name``, ``description``, and the ``interpolation`` and ``phase`` sections."""

    name: str
    description: str
    interpolation: Section
    phase: Section

    def as_dict(self) -> dict:
        """Plain data that :func:`load_preset` reads back (e.g. saved beside the checkpoints)."""
        data = dataclasses.asdict(self)
        training = data["interpolation"]["training"]
        training["k_values"] = list(training["k_values"])
        return data


TRAINING_TYPES = {"interpolation": InterpolationTraining, "phase": PhaseTraining}


def _section(data: Mapping, key: str) -> Section:
    where = key
    check_keys(data, [*MODEL_KEYS, "training"], where)
    for model_key in MODEL_KEYS:
        if model_key not in data:
            raise InputError(f"{where}: missing {model_key!r}; a section needs {', '.join([*MODEL_KEYS, 'training'])}")
        validate_model_config(data[model_key], f"{where}.{model_key}")
    training_type = TRAINING_TYPES[key]
    training = data.get("training", {})
    check_keys(training, [field.name for field in dataclasses.fields(training_type)], f"{where}.training")
    section = Section(
        model=dict(data["model"]),
        vanilla_model=dict(data["vanilla_model"]),
        discriminator=dict(data["discriminator"]),
        training=training_type(**training),
    )
    _check_crop(section, where)
    return section


def _check_crop(section: Section, where: str) -> None:
    """The crop must suit every network of the section (each pools a fixed number of times)."""
    crop = section.training.crop_size
    for model_key in ("model", "vanilla_model"):
        widths = getattr(section, model_key).get("widths")
        if widths is not None and crop % 2 ** (len(widths) - 1):
            raise InputError(
                f"{where}.training.crop_size = {crop} is not a multiple of {2 ** (len(widths) - 1)}, "
                f"which {where}.{model_key} (widths {list(widths)}) needs"
            )
    if crop % DISCRIMINATOR_MULTIPLE:
        raise InputError(
            f"{where}.training.crop_size = {crop}: the PatchGAN needs a multiple of {DISCRIMINATOR_MULTIPLE}"
        )


def preset_names() -> list[str]:
    """Names of the presets shipped in ``keras_hdl.configs``."""
    return sorted(
        path.name[:-5] for path in resources.files("keras_hdl.configs").iterdir() if path.name.endswith(".yaml")
    )


def load_preset(name_or_path: str | Path) -> Preset:
    """Load and validate a preset by name (``tiny``, ``cpu``, ``paper``) or from a YAML file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise InputError(f"preset file {path} does not exist")
        text = path.read_text(encoding="utf-8")
    elif str(name_or_path) in preset_names():
        text = resources.files("keras_hdl.configs").joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
    else:
        raise InputError(
            f"unknown preset {str(name_or_path)!r}; use one of {', '.join(preset_names())} or a .yaml path"
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"preset {name_or_path}: not valid YAML ({error})") from None
    return preset_from_dict(data, where=str(name_or_path))


def preset_from_dict(data: Mapping, where: str = "preset") -> Preset:
    """Validate a preset's plain data (as read from YAML) and turn it into a :class:`Preset`."""
    check_keys(data, ["name", "description", "interpolation", "phase"], where)
    for key in ("name", "interpolation", "phase"):
        if key not in data:
            raise InputError(f"{where}: missing {key!r}")
    return Preset(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        interpolation=_section(data["interpolation"], "interpolation"),
        phase=_section(data["phase"], "phase"),
    )
