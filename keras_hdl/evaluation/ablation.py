"""The phase module's ablation: each option beyond the paper on and off, at one training budget.

Arms (changes to the preset's ``phase`` section; the preset itself is the ``preset`` arm):

- ``no velocity loss``: ``velocity_l1_weight`` 0;
- ``3 neighbours``: the generator sees t−1, t, t+1 (the paper) instead of the preset's frames;
- ``cycle position``: the generator also sees t/T;
- ``paper``: 3 neighbours, no cycle position, no velocity loss (the per-step norm and the
  discriminator's shared background stay: they are fixes, not options).

Every arm trains its phase generator alone (``keras-hdl train --module phase``) for the same
``epochs`` with the same seed; the built-in phantom's arms are cached in
``$KERAS_HDL_CACHE/runs/ablation-{preset}-{arm}-e{epochs}-seed{seed}-{phantom name}/`` (other data: under
``OUT/runs/``), so the documented command reruns without retraining. Each arm's best network
then makes the K = 0 twin of every test scan through the user's path
(:func:`keras_hdl.synthesis.pipeline.synthesize_twin`: crop, synthesise, paste back) and the
twin's global curves are compared with the real phase's
(:func:`keras_hdl.assessment.twin_velocity_figures`). Output: ``ablation.json`` and ``ablation.md``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from keras_hdl.assessment import twin_velocity_figures
from keras_hdl.config import load_preset
from keras_hdl.errors import InputError
from keras_hdl.evaluation.data import load_test_set
from keras_hdl.evaluation.velocity import assess_twins, twin_label
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.markdown import markdown_table

DEFAULT_EPOCHS = 6
ARMS = {
    "preset": {},
    "no velocity loss": {"training": {"velocity_l1_weight": 0.0}},
    "3 neighbours": {"model": {"neighbours": 3}},
    "cycle position": {"model": {"cycle_position": True}},
    "paper": {"model": {"neighbours": 3, "cycle_position": False}, "training": {"velocity_l1_weight": 0.0}},
}
SHOWN = (
    "pearson_radial",
    "pearson_circumferential",
    "pearson_longitudinal",
    "pearson_overall",
    "psv_error_radial",
    "pdv_error_radial",
    "psv_error_longitudinal",
    "pdv_error_longitudinal",
    "velocity_score",
)


def arm_preset(preset_name: str, arm: str) -> dict:
    """The preset's plain data with the arm's changes to the phase section (and its own name)."""
    data = load_preset(preset_name).as_dict()
    for section, changes in ARMS[arm].items():
        data["phase"][section] = {**data["phase"][section], **changes}
    data["name"] = f"{data['name']}-ablation-{arm.replace(' ', '-')}"
    return data


def arm_folder(out_dir: Path, preset: str, arm: str, epochs: int, seed: int, data: Path | None) -> Path:
    """Where an arm trains (module docstring)."""
    slug = arm.replace(" ", "-")
    if data is None:
        from keras_hdl.phantom.dataset import default_phantom_name
        from keras_hdl.runtime import cache_dir

        return cache_dir() / "runs" / f"ablation-{preset}-{slug}-e{epochs}-seed{seed}-{default_phantom_name()}"
    return out_dir / "runs" / f"ablation-{slug}"


def train_arm(folder: Path, preset_data: dict, epochs: int, seed: int, data: Path | None) -> Path:
    """Train (or resume, or reuse) one arm's phase generator; its models folder."""
    from keras_hdl.training.train import TrainOptions, train

    models = folder / "models" / "phase.keras"
    if models.is_file():
        print(f"ablation: reusing {folder}", flush=True)
        return folder / "models"
    started = (folder / "run.json").is_file()
    config = folder.parent / f"{folder.name}.yaml"
    if not started:
        config.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(config) as tmp:
            tmp.write_text(yaml.safe_dump(preset_data, sort_keys=False))
    print(f"ablation: {'resuming' if started else 'training'} {preset_data['name']} in {folder}", flush=True)
    train(
        TrainOptions(
            out_dir=folder,
            module="phase",
            preset=None if started else str(config),
            data=None if started else data,
            epochs=epochs,
            resume=started,
            seed=None if started else seed,
        )
    )
    return folder / "models"


def arm_models(models_dir: Path):
    """:class:`~keras_hdl.synthesis.networks.TwinModels` of an arm: its phase network (K = 0 needs no interpolator)."""
    from keras_hdl.interpolation.linear import LinearInterpolator
    from keras_hdl.model_store import load_models
    from keras_hdl.predictors import KerasPredictor
    from keras_hdl.synthesis.networks import PhaseSynthesizer, twin_models

    info, networks = load_models(models_dir, "phase")
    phase = networks["phase"]
    synthesizer = PhaseSynthesizer.for_network(KerasPredictor(phase), phase)
    return twin_models(models_dir, info, LinearInterpolator(), synthesizer, phase, "fp32")


def run_ablation(
    out_dir: Path, preset: str, epochs: int, seed: int = 0, data: Path | None = None, train_missing: bool = False
) -> dict:
    """Train (with ``train_missing``) and compare every arm; writes ``ablation.json`` and ``ablation.md``."""
    from keras_hdl.phantom.dataset import default_phantom_dir

    if epochs < 1:
        raise InputError(f"--epochs: the ablation needs a training budget of at least 1 epoch, got {epochs}")
    folders = {arm: arm_folder(out_dir, preset, arm, epochs, seed, data) for arm in ARMS}
    missing = [arm for arm, folder in folders.items() if not (folder / "models" / "phase.keras").is_file()]
    if missing and not train_missing:
        raise InputError(
            f"the ablation arms {', '.join(missing)} are not trained yet; add --train-missing "
            f"(each trains the phase module for {epochs} epochs)"
        )
    test_set = load_test_set(data or default_phantom_dir())
    results = {"preset": preset, "epochs": epochs, "seed": seed, "test_set": test_set.description, "arms": {}}
    for arm, folder in folders.items():
        models_dir = train_arm(folder, arm_preset(preset, arm), epochs, seed, data)
        curves = assess_twins(test_set, arm_models(models_dir), (0,), seed)
        twin = curves.twins.get(twin_label(0))
        if twin is None:
            results["arms"][arm] = {"changes": ARMS[arm], "not_evaluated": curves.failed[twin_label(0)]}
            continue
        figures = twin_velocity_figures(twin, curves.real)
        results["arms"][arm] = {"changes": ARMS[arm], "vs_real": figures}
        if curves.truth is not None:
            results["arms"][arm]["vs_truth"] = twin_velocity_figures(twin, curves.truth)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "ablation.json", results)
    with atomic_path(out_dir / "ablation.md") as tmp:
        tmp.write_text("\n".join(ablation_lines(results)) + "\n")
    return results


def ablation_lines(results: dict) -> list[str]:
    """The ablation table in Markdown: one row per arm, the K = 0 twin against the real phase."""
    rows = []
    for arm, result in results["arms"].items():
        if "vs_real" not in result:
            rows.append([arm, *(["—"] * len(SHOWN))])
            continue
        rows.append([arm, *(f"{result['vs_real'][name]:.3f}" for name in SHOWN)])
    header = ["arm", *(name.replace("_", " ") for name in SHOWN)]
    return [
        f"## Phase-module ablation ({results['preset']} preset, {results['epochs']} epoch(s) per arm, seed "
        f"{results['seed']})",
        "",
        "K = 0 twins of the test scans (real magnitude, synthetic phase) against the real phase: Pearson of the "
        "global curves (per slice, averaged) and |relative error| of the peak systolic (PSV) and early-diastolic "
        "(PDV) velocities; velocity score = (1 − Pearson overall) + ½ (1 − Pearson circumferential) + the mean of "
        "the four marker errors (lower is better). "
        "Arms: " + "; ".join(f"**{arm}**: {_describe(changes)}" for arm, changes in ARMS.items()) + ".",
        "",
        *markdown_table(header, rows, right_aligned=range(1, len(header))),
    ]


def _describe(changes: dict) -> str:
    if not changes:
        return "the preset as shipped"
    return ", ".join(f"{key} = {value}" for section in changes.values() for key, value in section.items())
