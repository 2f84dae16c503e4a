"""Which trained networks an evaluation compares: ``--runs`` folders, the shipped weights, or ``--train-missing``.

Each variant of ``keras-hdl train --variant`` gives the networks of some methods:

- ``hdl``: the HDL interpolator ("HDL (ours)") and the HDL phase generator;
- ``vanilla``: the vanilla R2UNet interpolator and vanilla pix2pix (no composite);
- ``gan``: the HDL interpolator trained with a PatchGAN loss ("GAN", interpolator only).

A ``--runs`` folder (a run folder or its ``models/``) is recognised by the ``variant`` of
its ``model_info.json``. Without one, ``hdl`` falls back to the shipped weights when the
preset is ``cpu`` (they are ``cpu`` networks). With ``--train-missing`` every variant
still missing is trained with the preset by :func:`keras_hdl.training.train.train`:

- on the built-in phantom (no ``--data``) into
  ``$KERAS_HDL_CACHE/runs/{preset}-{variant}-seed{seed}[-e{epochs}]-{phantom name}/``, so a documented command
  reruns without retraining (and a new built-in phantom trains anew);
- on other data into ``OUT/runs/{variant}/`` (a cache keyed by data would risk mixing datasets).

A folder there that already holds a finished run of the same data, seed and epochs is reused;
an interrupted one is resumed. Variants still missing are reported as not evaluated.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from keras_hdl.errors import InputError
from keras_hdl.model_store import (
    INFO_FILE,
    NETWORK_FILES,
    SHIPPED_MODELS,
    VARIANT_NETWORKS,
    VARIANTS,
    ModelInfo,
    read_model_info,
)

SHIPPED_PRESET = "cpu"
NO_RUN = "no run (pass --runs or --train-missing)"
ORIGIN_RUNS, ORIGIN_SHIPPED, ORIGIN_TRAINED = "--runs", "shipped weights", "--train-missing"


@dataclasses.dataclass(frozen=True)
class ResolvedRun:
    """One variant's networks: its models folder, where it came from and its model info."""

    variant: str
    models_dir: Path
    origin: str  # ORIGIN_RUNS, ORIGIN_SHIPPED or ORIGIN_TRAINED
    info: ModelInfo

    def has(self, network: str) -> bool:
        return (self.models_dir / NETWORK_FILES[network]).is_file()


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """What the runs are resolved from (the evaluation's options that concern them)."""

    preset: str
    runs: tuple[Path, ...]
    data: Path | None
    seed: int
    out_dir: Path
    train_missing: bool = False
    epochs: int | None = None


def models_folder(path: Path) -> Path:
    """The models folder of a ``--runs`` entry: a run folder's ``models/`` or a models folder itself."""
    if (path / "models" / INFO_FILE).is_file():
        return path / "models"
    if (path / INFO_FILE).is_file():
        return path
    raise InputError(
        f"--runs {path}: neither a run folder (with models/{INFO_FILE}) nor a models folder ({INFO_FILE}); "
        "pass the --out folder of `keras-hdl train` (or its models/), or use --train-missing"
    )


def given_runs(request: RunRequest) -> dict[str, ResolvedRun]:
    """The ``--runs`` folders by variant; InputError for an unknown folder, a repeated variant, a preset mismatch."""
    found: dict[str, ResolvedRun] = {}
    for path in request.runs:
        folder = models_folder(Path(path))
        info = read_model_info(folder)
        if info.variant not in VARIANTS:
            raise InputError(
                f"--runs {path}: unknown variant {info.variant!r} in {INFO_FILE}; expected one of {VARIANTS}"
            )
        if info.variant in found:
            raise InputError(
                f"--runs: two runs of variant {info.variant!r} ({found[info.variant].models_dir} and {folder}); "
                "give one run per variant"
            )
        if info.preset != request.preset:
            raise InputError(
                f"--runs {path}: trained with the {info.preset!r} preset but --preset is {request.preset!r}; "
                f"compare runs of one preset (pass --preset {info.preset}, or a run of the {request.preset} preset)"
            )
        found[info.variant] = ResolvedRun(info.variant, folder, ORIGIN_RUNS, info)
    return found


def training_folder(request: RunRequest, variant: str) -> Path:
    """Where ``--train-missing`` trains (or finds) ``variant`` (module docstring)."""
    if request.data is None:
        from keras_hdl.phantom.dataset import default_phantom_name
        from keras_hdl.runtime import cache_dir

        epochs = "" if request.epochs is None else f"-e{request.epochs}"
        return cache_dir() / "runs" / f"{request.preset}-{variant}-seed{request.seed}{epochs}-{default_phantom_name()}"
    return request.out_dir / "runs" / variant


def _check_reusable(folder: Path, request: RunRequest, variant: str) -> None:
    """Refuse to reuse a run folder trained on other data, with another seed, epochs, preset or variant."""
    state = json.loads((folder / "run.json").read_text())
    data = None if request.data is None else str(Path(request.data).resolve())
    expected = {
        "data_path": data,
        "seed": request.seed,
        "epochs": request.epochs,
        "variant": variant,
    }
    for key, value in expected.items():
        if state.get(key, "hdl" if key == "variant" else None) != value:
            raise InputError(
                f"{folder}: holds a run with {key} {state.get(key)!r}, not {value!r}; --train-missing will not reuse "
                "it: remove the folder or choose another --out"
            )


def train_variant(request: RunRequest, variant: str) -> Path:
    """Train (or resume, or reuse) ``variant`` with the preset into :func:`training_folder`; its models folder."""
    from keras_hdl.training.train import TrainOptions, train

    folder = training_folder(request, variant)
    finished = folder / "models" / INFO_FILE
    started = (folder / "run.json").is_file()
    if started:
        _check_reusable(folder, request, variant)
    if finished.is_file() and all((folder / "models" / NETWORK_FILES[n]).is_file() for n in VARIANT_NETWORKS[variant]):
        print(f"--train-missing: reusing the {variant} run in {folder}", flush=True)
    else:
        action = "resuming" if started else "training"
        print(
            f"--train-missing: {action} the {variant} variant with the {request.preset} preset in {folder}", flush=True
        )
        train(
            TrainOptions(
                out_dir=folder,
                preset=None if started else request.preset,
                data=None if started else request.data,
                epochs=request.epochs,
                resume=started,
                seed=None if started else request.seed,
                variant=None if started else variant,
            )
        )
    return folder / "models"


def resolve_runs(request: RunRequest) -> tuple[dict[str, ResolvedRun], dict[str, str]]:
    """The runs to evaluate by variant, and for each variant without one the reason (shown in the report)."""
    runs = given_runs(request)
    if "hdl" not in runs and request.preset == SHIPPED_PRESET and (SHIPPED_MODELS / INFO_FILE).is_file():
        runs["hdl"] = ResolvedRun("hdl", SHIPPED_MODELS, ORIGIN_SHIPPED, read_model_info(SHIPPED_MODELS))
    missing = {}
    for variant in VARIANTS:
        if variant in runs:
            continue
        if request.train_missing:
            folder = train_variant(request, variant)
            runs[variant] = ResolvedRun(variant, folder, ORIGIN_TRAINED, read_model_info(folder))
        else:
            missing[variant] = NO_RUN
    check_compatible(runs)
    return {variant: runs[variant] for variant in VARIANTS if variant in runs}, missing


def check_compatible(runs: dict[str, ResolvedRun]) -> None:
    """Every run must see the same LV crop (crop size and pixel spacing), so all methods are scored alike."""
    grids = {(run.info.crop_size, tuple(round(s, 4) for s in run.info.pixel_spacing_mm)) for run in runs.values()}
    if len(grids) > 1:
        shown = ", ".join(
            f"{run.variant}: {run.info.crop_size} px at {run.info.pixel_spacing_mm} mm" for run in runs.values()
        )
        raise InputError(
            f"the runs were trained on different crops ({shown}); evaluate runs trained on the same data and preset"
        )
