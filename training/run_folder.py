"""The run folder's bookkeeping: the settings a run trains with, run.json and metrics.csv.

Layout (written by :func:`keras_hdl.training.train.train`)::

    RUN_DIR/
      config.yaml                  the merged preset (what --resume checks against)
      run.json                     data, seed, strategy, precision, per-module progress and best figures
      background_noise.json        the phase background Gaussian fitted on the training set
      metrics.csv                  one row per module and epoch: train and validation figures
      checkpoints/<module>/last*   weights, optimizer state and epoch (tf.train.Checkpoint)
      checkpoints/<module>/best.keras   the network with the best validation figure so far (float32)
      tensorboard/<module>/        TensorBoard logs (per step and per epoch)
      models/                      the best networks as a models folder (keras_hdl.model_store)

TensorFlow-free: settling the options (:func:`resolve_settings`) checks everything before a network
is built or a file written.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import yaml

from keras_hdl.config import Preset, load_preset, preset_from_dict
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.model_store import VARIANT_NETWORKS, VARIANTS
from keras_hdl.precision import DEFAULT_PRECISION, run_file_name, training_precision
from keras_hdl.training.options import (
    DEFAULT_PRESET,
    DEFAULT_SEED,
    DEFAULT_VARIANT,
    MODULE_CHOICES,
    MODULES,
    STRATEGIES,
    TrainOptions,
)

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The settings a run trains with, resolved from the options and, on --resume, the run folder."""

    preset: Preset
    module: str
    data: Path | None
    seed: int
    precision: str  # fp32, bf16 or fp16
    epochs: int | None  # None: the preset's
    state: dict
    variant: str = DEFAULT_VARIANT

    @property
    def modules(self) -> tuple[str, ...]:
        return MODULES if self.module == "all" else (self.module,)

    def command_line(self) -> str:
        """The `keras-hdl train` command that reproduces this run (recorded in the models folder)."""
        parts = ["keras-hdl train", f"--module {self.module}", f"--preset {self.preset.name}"]
        parts.append(f"--seed {self.seed}")
        if self.variant != DEFAULT_VARIANT:
            parts.append(f"--variant {self.variant}")
        if self.data is not None:
            parts.append(f"--data {self.data}")
        if self.epochs is not None:
            parts.append(f"--epochs {self.epochs}")
        if self.precision != DEFAULT_PRECISION:
            parts.append(f"--precision {self.precision}")
        return " ".join(parts)

    def run_state(self, data_description: dict, strategy: str, replicas: int) -> dict:
        """run.json's settings (the progress and best figures stay in :attr:`state`)."""
        return {
            "data": data_description,
            "data_path": None if self.data is None else str(self.data),
            "seed": self.seed,
            "strategy": strategy,
            "replicas": replicas,
            "mixed_precision": run_file_name(self.precision),
            "module": self.module,
            "epochs": self.epochs,
            "variant": self.variant,
        }


def _resolved_data(path: Path | None) -> Path | None:
    return None if path is None else Path(path).resolve()


def _check_options(options: TrainOptions) -> None:
    if options.epochs is not None and options.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {options.epochs}")
    if options.strategy not in STRATEGIES:
        raise InputError(f"--strategy {options.strategy!r}: choose {', '.join(STRATEGIES)}")
    if options.precision is not None:
        training_precision(options.precision)
    if options.module not in (None, *MODULE_CHOICES):
        raise InputError(f"--module {options.module!r}: choose {', '.join(MODULE_CHOICES)}")
    if options.variant not in (None, *VARIANTS):
        raise InputError(f"--variant {options.variant!r}: choose {', '.join(VARIANTS)}")
    out_dir = options.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a folder")


def resolve_settings(options: TrainOptions) -> RunSettings:
    """Check the options against the run folder (nothing is written) and settle every setting."""
    _check_options(options)
    out_dir = options.out_dir
    precision = None if options.precision is None else training_precision(options.precision)
    if not options.resume:
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise InputError(f"run folder {out_dir} already holds a run; use --resume to continue it or another --out")
        variant = options.variant or DEFAULT_VARIANT
        networks = VARIANT_NETWORKS[variant]
        module = options.module or (networks[0] if len(networks) == 1 else "all")
        if module not in (*networks, "all") or (module == "all" and networks != MODULES):
            raise InputError(
                "--variant gan trains the GAN temporal baseline (the interpolator with a PatchGAN); the phase model "
                "is a GAN already: use --module interpolator"
            )
        return RunSettings(
            preset=load_preset(options.preset or DEFAULT_PRESET),
            module=module,
            variant=variant,
            data=_resolved_data(options.data),
            seed=DEFAULT_SEED if options.seed is None else options.seed,
            precision=precision or DEFAULT_PRECISION,
            epochs=options.epochs,
            state={"completed_epochs": {}, "best": {}},
        )
    config_path, run_path = out_dir / CONFIG_FILE, out_dir / RUN_FILE
    if not config_path.is_file() or not run_path.is_file():
        raise InputError(f"--resume: {out_dir} is not a run folder (no {CONFIG_FILE} / {RUN_FILE}); start a new run")
    try:
        saved_config, state = yaml.safe_load(config_path.read_text()), json.loads(run_path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise InputError(f"--resume: {out_dir} holds a damaged {CONFIG_FILE} or {RUN_FILE} ({error})") from None
    saved = preset_from_dict(saved_config, where=str(config_path))
    if options.preset is not None and load_preset(options.preset).as_dict() != saved.as_dict():
        raise InputError(
            f"--resume: {out_dir} was trained with another configuration than --preset/--config "
            f"{options.preset}; leave --preset/--config out to resume it as it was"
        )
    saved_precision = training_precision(state.get("mixed_precision", run_file_name(DEFAULT_PRECISION)))
    recorded = {
        "--data": (state.get("data_path"), None if options.data is None else str(_resolved_data(options.data))),
        "--seed": (state.get("seed"), options.seed),
        "--precision": (saved_precision, precision),
        "--variant": (state.get("variant", DEFAULT_VARIANT), options.variant),
    }
    for flag, (saved_value, given) in recorded.items():
        if given is not None and given != saved_value:
            raise InputError(
                f"--resume: {out_dir} was trained with {flag} {saved_value}, not {given}; "
                f"leave {flag} out to resume it as it was"
            )
    return RunSettings(
        preset=saved,
        module=options.module or state.get("module", "all"),
        data=None if state.get("data_path") is None else Path(state["data_path"]),
        seed=int(state.get("seed", DEFAULT_SEED)),
        precision=saved_precision,
        epochs=state.get("epochs") if options.epochs is None else options.epochs,
        state=state,
        variant=state.get("variant", DEFAULT_VARIANT),
    )


def write_config(run_dir: Path, preset: Preset) -> None:
    """config.yaml: the merged preset, as --resume reads it back."""
    with atomic_path(run_dir / CONFIG_FILE) as tmp:
        tmp.write_text(yaml.safe_dump(preset.as_dict(), sort_keys=False))


def write_state(run_dir: Path, state: dict) -> None:
    """run.json, atomically."""
    write_json(run_dir / RUN_FILE, state)


def _parsed_row(row: dict[str, str]) -> dict:
    """A metrics.csv row as written: module name, int epoch, float figures (None where empty)."""
    return {
        name: value if name == "module" else int(value) if name == "epoch" else float(value) if value else None
        for name, value in row.items()
    }


class MetricsLog:
    """metrics.csv: one row per (module, epoch), rewritten atomically after every epoch.

    ``existing`` is the metrics.csv to continue (the chief's, on --resume); default ``path``.
    """

    def __init__(self, path: Path, existing: Path | None = None):
        self.path = path
        self.rows: list[dict] = []
        source = existing if existing is not None and existing.is_file() else path
        if source.is_file():
            with source.open(newline="") as handle:
                self.rows = [_parsed_row(row) for row in csv.DictReader(handle)]

    def add(self, row: dict) -> None:
        """Add (or replace, for a redone epoch) the row of ``row["module"]``, ``row["epoch"]``."""
        key = (row["module"], row["epoch"])
        self.rows = [r for r in self.rows if (r["module"], r["epoch"]) != key] + [row]
        columns = ["module", "epoch", "seconds"]
        for existing in self.rows:
            columns += [name for name in existing if name not in columns]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
