"""`keras-hdl evaluate`: the paper's experiments on the held-out phantom subjects, every baseline included.

:func:`evaluate` checks the options, the data and the runs first (nothing is trained or
written before), then for the test split:

1. interpolation table (Table III / Fig. 10) for each K of ``k_values``: linear,
   Horn–Schunck, vanilla R2UNet, GAN and HDL (ours) (:mod:`~keras_hdl.evaluation.interpolation`);
2. phase table (Table I) for K = 0, 3, 6: vanilla pix2pix vs ours (:mod:`~keras_hdl.evaluation.phase`);
3. velocity table (Table II) for K = 0, 3, 6 from HDL twins (:mod:`~keras_hdl.evaluation.velocity`), and
   the same figures per acquisition variant (:mod:`~keras_hdl.evaluation.variants`);
4. figures (Figs. 5, 8, 9, 10), ``results.json`` and ``report.md`` (:mod:`~keras_hdl.evaluation.report`).

Methods without networks (no run of their variant) are listed in the report as not
evaluated, never dropped silently. The same runs, data and seed give an identical
``results.json`` (it holds no times or absolute output paths).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keras_hdl import __version__
from keras_hdl.errors import InputError
from keras_hdl.evaluation import figures
from keras_hdl.evaluation.data import Crops, TestSet, crop_region_text, crops_at, load_test_set
from keras_hdl.evaluation.interpolation import interpolate_crops, interpolation_figures
from keras_hdl.evaluation.phase import phase_figures, twin_magnitude
from keras_hdl.evaluation.report import answers, write_outputs
from keras_hdl.evaluation.runs import NO_RUN, ResolvedRun, RunRequest, resolve_runs
from keras_hdl.evaluation.statistics import json_number, summarize
from keras_hdl.evaluation.variants import variant_results
from keras_hdl.evaluation.velocity import TRUTH, VelocityCurves, assess_twins, velocity_results
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.interpolation.optical_flow import HornSchunckInterpolator
from keras_hdl.interpolation.plan import MAX_K, Interpolator, validate_k
from keras_hdl.model_store import SHIPPED_MODELS
from keras_hdl.synthesis.pipeline import synthesize_cycle_phase, validate_seed

DEFAULT_K_VALUES = (1, 2, 3, 4, 5, 6)
TABLE_K_VALUES = (0, 3, 6)
"""The K of the phase and velocity tables (the paper's Tables I and II)."""
INTERPOLATION_METHODS = {
    "linear": "linear",
    "horn_schunck": "Horn–Schunck",
    "vanilla": "vanilla R2UNet",
    "gan": "GAN",
    "hdl": "HDL (ours)",
}
PHASE_METHODS = {"vanilla": "vanilla pix2pix", "hdl": "HDL (ours)"}
FIGURES = {
    "figures/fig10_metrics_vs_k.png": "Fig. 10: interpolation metrics against K per method",
    "figures/fig5_error_maps.png": "Fig. 5: absolute interpolation error maps (one test slice)",
    "figures/fig8_marker_boxes.png": "Fig. 8: velocity markers over test slices",
    "figures/fig9_example_curves.png": "Fig. 9: example global velocity curves (one test slice)",
}


@dataclasses.dataclass(frozen=True)
class EvaluationOptions:
    """What `keras-hdl evaluate` was asked for (see the command's --help)."""

    out_dir: Path
    preset: str = "cpu"
    data: Path | None = None  # None: the built-in phantom
    runs: tuple[Path, ...] = ()
    k_values: tuple[int, ...] = DEFAULT_K_VALUES
    train_missing: bool = False
    epochs: int | None = None  # per module, for --train-missing; None: the preset's
    seed: int = 0
    command: str = "keras-hdl evaluate"


def parse_k_values(text: str) -> tuple[int, ...]:
    """``"1,3,6"`` → (1, 3, 6): distinct integers 1…6, sorted."""
    try:
        values = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--k {text!r}: expected comma-separated integers such as 1,2,3,4,5,6") from None
    return check_k_values(values)


def check_k_values(values) -> tuple[int, ...]:
    values = tuple(values)
    if not values:
        raise InputError("--k: give at least one K, e.g. --k 1,3,6")
    outside = [k for k in values if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K]
    if outside:
        raise InputError(
            f"--k {outside}: each K must be an integer from 1 to {MAX_K} (frames dropped between kept ones)"
        )
    if len(set(values)) != len(values):
        raise InputError(f"--k {list(values)}: a K appears twice; give each K once")
    return tuple(sorted(int(k) for k in values))


# ------------------------------------------------------------------ networks
def _network(run: ResolvedRun, name: str):
    from keras_hdl.model_store import load_models
    from keras_hdl.synthesis.networks import check_network_kinds

    _, networks = load_models(run.models_dir, name)
    check_network_kinds(run.models_dir, networks)
    return networks[name]


def _interpolators(runs: dict[str, ResolvedRun], missing: dict[str, str]) -> tuple[dict[str, Interpolator], dict]:
    """Every interpolation method with its interpolator, and the reasons of those without."""
    from keras_hdl.interpolation.network import NetworkInterpolator

    methods: dict[str, Interpolator] = {"linear": LinearInterpolator(), "horn_schunck": HornSchunckInterpolator()}
    reasons = {}
    for variant in ("vanilla", "gan", "hdl"):
        run = runs.get(variant)
        if run is None:
            reasons[variant] = missing.get(variant, NO_RUN)
        elif not run.has("interpolator"):
            reasons[variant] = f"the {variant} run {run.models_dir} has no interpolator network"
        else:
            model = _network(run, "interpolator")
            methods[variant] = NetworkInterpolator.from_model(model, name=INTERPOLATION_METHODS[variant])
    return methods, reasons


def _phase_synthesizers(runs: dict[str, ResolvedRun], missing: dict[str, str]) -> tuple[dict, dict]:
    from keras_hdl.predictors import KerasPredictor
    from keras_hdl.synthesis.networks import PhaseSynthesizer

    synthesizers, reasons = {}, {}
    for variant in PHASE_METHODS:
        run = runs.get(variant)
        if run is None:
            reasons[f"phase:{variant}"] = missing.get(variant, NO_RUN)
        elif not run.has("phase"):
            reasons[f"phase:{variant}"] = f"the {variant} run {run.models_dir} has no phase network"
        else:
            model = _network(run, "phase")
            synthesizers[variant] = PhaseSynthesizer.for_network(KerasPredictor(model), model)
    return synthesizers, reasons


# ------------------------------------------------------------------ display
def display_path(path: Path, out_dir: Path) -> str:
    """A path as results.json shows it: relative to OUT, under $KERAS_HDL_CACHE, the shipped weights, or absolute."""
    from keras_hdl.runtime import cache_dir

    path = Path(path).resolve()
    if path == SHIPPED_MODELS.resolve():
        return "keras_hdl/weights (shipped)"
    for base, shown in ((Path(out_dir).resolve(), "OUT"), (cache_dir().resolve(), "$KERAS_HDL_CACHE")):
        if path.is_relative_to(base):
            return f"{shown}/{path.relative_to(base).as_posix()}"
    return str(path)


def _runs_section(runs: dict[str, ResolvedRun], out_dir: Path) -> dict:
    return {
        variant: {
            "models": display_path(run.models_dir, out_dir),
            "origin": run.origin,
            "networks": [name for name in ("interpolator", "phase") if run.has(name)],
            "preset": run.info.preset,
            "command": run.info.command,
            "trained_with": run.info.keras_hdl_version,
        }
        for variant, run in runs.items()
    }


# ------------------------------------------------------------------ tables
def _summaries(per_image: dict[str, np.ndarray]) -> dict:
    return {metric: summarize(values) for metric, values in per_image.items()}


def _pooled(groups: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-image figures of the frame-count groups, concatenated per metric."""
    return {metric: np.concatenate([group[metric] for group in groups]) for metric in groups[0]}


@dataclasses.dataclass
class _Examples:
    """What the figures of one test slice need (filled while the tables are computed)."""

    slice_index: int
    truth: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    frames: dict[int, int] = dataclasses.field(default_factory=dict)
    errors: dict[str, dict[int, np.ndarray]] = dataclasses.field(default_factory=dict)

    def add(self, crops: Crops, label: str, interpolated) -> None:  # crops: the first group (the first scan's)
        """|error| of the first gap's middle frame of the example slice."""
        index = (crops.k + 1) // 2 - 1
        frame = int(interpolated.targets[index])
        truth = crops.magnitude[self.slice_index, frame]
        self.truth[crops.k], self.frames[crops.k] = truth, frame
        self.errors.setdefault(label, {})[crops.k] = np.abs(interpolated.magnitude[self.slice_index, index] - truth)


def interpolation_table(crops_by_k: dict[int, list[Crops]], k_values, methods, examples: _Examples) -> dict:
    values: dict[str, dict] = {method: {} for method in methods}
    metric_names: list[str] = []
    with tqdm(total=len(k_values) * len(methods), desc="interpolation table", unit="method") as bar:
        for k in k_values:
            for method, interpolator in methods.items():
                bar.set_postfix_str(f"K={k} {INTERPOLATION_METHODS[method]}")
                groups = [(crops, interpolate_crops(crops, interpolator)) for crops in crops_by_k[k]]
                per_image = _pooled([interpolation_figures(crops, interpolated) for crops, interpolated in groups])
                metric_names = list(per_image)
                values[method][str(k)] = _summaries(per_image)
                first_crops, first_interpolated = groups[0]
                examples.add(first_crops, INTERPOLATION_METHODS[method], first_interpolated)
                bar.update()
    return {"k": list(k_values), "metrics": metric_names, "values": values}


def _scan_phase(crops: Crops, magnitude: np.ndarray, seed: int, synthesizer) -> np.ndarray:
    """(S, T, C, C, 3) phase synthesised from ``magnitude``, at each slice's own venc (as the real crops')."""
    phase = synthesize_cycle_phase(magnitude, seed, synthesizer)
    return synthesizer.at_scan(phase, crops.venc[:, None, None, None, :], crops.frame_interval_ms[:, None, None, None])


def phase_table(crops_by_k: dict[int, list[Crops]], synthesizers, hdl_interpolator, seed: int, reasons: dict) -> dict:
    values: dict[str, dict] = {method: {} for method in synthesizers}
    metric_names: list[str] = []
    interpolator = hdl_interpolator if hdl_interpolator is not None else LinearInterpolator()  # K = 0 needs none
    with tqdm(total=len(TABLE_K_VALUES) * len(synthesizers), desc="phase table", unit="method") as bar:
        for k in TABLE_K_VALUES:
            if k > 0 and hdl_interpolator is None:
                reasons[f"phase at K={k}"] = "no HDL interpolator to make the twin's magnitude"
                bar.update(len(synthesizers))
                continue
            # the twin's magnitude once per K: both phase networks get the same input
            magnitudes = [twin_magnitude(crops, interpolator) for crops in crops_by_k[k]]
            for method, synthesizer in synthesizers.items():
                bar.set_postfix_str(f"K={k} {PHASE_METHODS[method]}")
                per_image = _pooled(
                    [
                        phase_figures(crops, _scan_phase(crops, magnitude, seed, synthesizer))
                        for crops, magnitude in zip(crops_by_k[k], magnitudes, strict=True)
                    ]
                )
                metric_names = list(per_image)
                values[method][str(k)] = _summaries(per_image)
                bar.update()
    return {"k": list(TABLE_K_VALUES), "metrics": metric_names, "values": values}


def velocity_curves(test_set: TestSet, run: ResolvedRun, seed: int) -> VelocityCurves:
    from keras_hdl.synthesis.networks import load_local_models

    models = load_local_models(run.models_dir)
    total = len(TABLE_K_VALUES) * len(test_set.scans)
    with tqdm(total=total, desc="velocity (HDL twins)", unit="twin") as bar:
        return assess_twins(test_set, models, TABLE_K_VALUES, seed, progress=bar.update)


# ------------------------------------------------------------------ main
def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a folder; choose an output folder")


def _data_folder(data: Path | None) -> Path:
    if data is not None:
        if not Path(data).is_dir():
            raise InputError(f"--data {data}: no such folder (pass a phantom dataset folder)")
        return Path(data)
    from keras_hdl.phantom.dataset import default_phantom_dir

    return default_phantom_dir()


def evaluate(options: EvaluationOptions) -> dict:
    """Run the experiments and write ``report.md``, ``results.json`` and ``figures/`` into ``options.out_dir``.

    Returns the results dict (what results.json holds).
    """
    from keras_hdl.config import load_preset

    started = time.perf_counter()
    k_values = check_k_values(options.k_values)
    seed = validate_seed(options.seed)
    preset = load_preset(options.preset)
    if options.epochs is not None and options.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {options.epochs}")
    out_dir = Path(options.out_dir)
    _check_out_dir(out_dir)
    test_set = load_test_set(_data_folder(options.data))
    for k in (*k_values, *TABLE_K_VALUES):
        validate_k(k, min(test_set.frame_counts))
    request = RunRequest(
        preset=preset.name,
        runs=tuple(Path(p) for p in options.runs),
        data=None if options.data is None else Path(options.data),
        seed=seed,
        out_dir=out_dir,
        train_missing=options.train_missing,
        epochs=options.epochs,
    )
    runs, missing = resolve_runs(request)
    any_run = next(iter(runs.values()), None)
    grid = (
        (any_run.info.crop_size, tuple(any_run.info.pixel_spacing_mm))
        if any_run is not None
        else (preset.interpolation.training.crop_size, test_set.pixel_spacing_mm)
    )
    print(f"evaluating on {test_set.description}", flush=True)

    interpolators, not_evaluated = _interpolators(runs, missing)
    synthesizers, phase_reasons = _phase_synthesizers(runs, missing)
    not_evaluated |= phase_reasons
    first_scan = test_set.scans[0]
    examples = _Examples(slice_index=first_scan.series.num_slices // 2)

    timings = {}
    step = time.perf_counter()
    crops_by_k = {k: crops_at(test_set, k, *grid) for k in sorted({*k_values, *TABLE_K_VALUES})}
    interpolation = interpolation_table(crops_by_k, k_values, interpolators, examples)
    timings["interpolation"] = time.perf_counter() - step
    step = time.perf_counter()
    phase = phase_table(crops_by_k, synthesizers, interpolators.get("hdl"), seed, not_evaluated)
    timings["phase"] = time.perf_counter() - step

    step = time.perf_counter()
    hdl = runs.get("hdl")
    curves = None
    if hdl is not None and hdl.has("interpolator") and hdl.has("phase"):
        curves = velocity_curves(test_set, hdl, seed)
    else:
        not_evaluated["velocity"] = (
            "HDL twins need an hdl run with both networks (" + missing.get("hdl", "incomplete run") + ")"
        )
    timings["velocity"] = time.perf_counter() - step

    results = {
        "format": "keras-hdl-evaluation",
        "keras_hdl_version": __version__,
        "command": options.command,
        "preset": preset.name,
        "seed": seed,
        "data": {
            "folder": display_path(test_set.folder, out_dir),
            "description": test_set.description.replace(str(test_set.folder), display_path(test_set.folder, out_dir)),
            "test_scans": [scan.scan_id for scan in test_set.scans],
            "slices": test_set.num_slices,
            "frames": test_set.frame_counts,
        },
        "crop": {
            "size": grid[0],
            "pixel_spacing_mm": [json_number(s) for s in grid[1]],
            "region": crop_region_text(grid[0], grid[1]),
        },
        "horn_schunck": {
            name: getattr(interpolators["horn_schunck"], name) for name in ("smoothness", "iterations", "levels")
        },
        "runs": _runs_section(runs, out_dir),
        "not_evaluated": not_evaluated,
        "methods": dict(INTERPOLATION_METHODS),
        "phase_methods": dict(PHASE_METHODS),
        "interpolation": interpolation,
        "phase": phase,
        "figures": {},
    }
    if curves is not None:
        results["velocity"] = velocity_results(curves, TABLE_K_VALUES)
        variants = variant_results(test_set, curves)
        if variants is not None:
            results["velocity"]["variants"] = variants
    results["figures"] = _write_figures(results, examples, curves, first_scan.scan_id, out_dir)
    results["answers"] = answers(results)
    paths = write_outputs(results, out_dir)
    timings["total"] = time.perf_counter() - started
    shown = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"report: {paths['report']}  results: {paths['results']}  ({shown})", flush=True)
    return results


def _write_figures(results: dict, examples: _Examples, curves, scan_id: str, out_dir: Path) -> dict[str, str]:
    """Write the figures that have data; their (relative path → caption) for the report."""
    written = {}
    names = list(FIGURES)
    figures.plot_metrics_vs_k(results["interpolation"], results["methods"], out_dir / names[0])
    figures.plot_error_maps(examples.truth, examples.errors, examples.frames, out_dir / names[1])
    written |= {names[0]: FIGURES[names[0]], names[1]: FIGURES[names[1]]}
    if curves is not None:
        figures.plot_marker_boxes(results["velocity"], out_dir / names[2])
        index = examples.slice_index
        example = {TRUTH: curves.truth[0][index]} if curves.truth is not None else {}
        example |= {"real": curves.real[0][index], **{label: c[0][index] for label, c in curves.twins.items()}}
        title = f"Global velocities of {scan_id}, slice {index} (mm/s): truth, real phase, HDL twins"
        figures.plot_example_curves(example, title, out_dir / names[3])
        written |= {names[2]: FIGURES[names[2]], names[3]: FIGURES[names[3]]}
    return written
