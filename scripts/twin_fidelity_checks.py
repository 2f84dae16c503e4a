"""The figures of docs/results/fidelity.md that `keras-hdl evaluate` does not print, from the shipped weights.

    .venv/bin/python scripts/twin_fidelity_checks.py

1. What limits K = 6: the phase network on frames from the HDL interpolator and from linear
   interpolation, on the built-in phantom's test split (Pearson against the truth, PSV errors).
2. K = 0 radial PSV on scans unlike the phantom (the variants of tests/synthesis/test_twin_fidelity.py).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "synthesis"))

from test_twin_fidelity import HELD_OUT_SEED, UNLIKE_THE_PHANTOM, scan, twin_curves

from keras_hdl.assessment import compute_markers, twin_velocity_figures
from keras_hdl.evaluation.data import load_test_set
from keras_hdl.evaluation.velocity import assess_twins
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import default_phantom_dir
from keras_hdl.synthesis import load_local_models
from keras_hdl.synthesis.networks import resolve_models_folder


def main() -> None:
    models = load_local_models(resolve_models_folder())
    test_set = load_test_set(default_phantom_dir())
    header = "| dropped frames from | K | Pearson radial | longitudinal | overall | PSV error radial | longitudinal |"
    print(header)
    print("|---|---|--:|--:|--:|--:|--:|")
    interpolators = {"HDL interpolator": models.interpolator, "linear interpolation": LinearInterpolator()}
    for name, interpolator in interpolators.items():
        curves = assess_twins(test_set, dataclasses.replace(models, interpolator=interpolator), (3, 6), seed=0)
        for label, twin in curves.twins.items():
            f = twin_velocity_figures(twin, curves.truth)
            figures = ("pearson_radial", "pearson_longitudinal", "pearson_overall")
            errors = ("psv_error_radial", "psv_error_longitudinal")
            cells = [f"{f[k]:.3f}" for k in figures] + [f"{100 * f[k]:.1f} %" for k in errors]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |")
    print()
    print("| scan unlike the phantom | twin radial PSV (mm/s, mean of slices) | truth | relative error |")
    print("|---|--:|--:|--:|")
    for variant, (config_changes, subject_changes) in UNLIKE_THE_PHANTOM.items():
        config = PhantomConfig(**{"subjects": 1, "size": 128, "seed": HELD_OUT_SEED, **config_changes})
        series, truth = scan(config, **subject_changes)
        twin = compute_markers(twin_curves(series, 0, models))["psv"][:, 0].mean()
        true = compute_markers(truth.curves_mm_s)["psv"][:, 0].mean()
        print(f"| {variant} | {twin:.1f} | {true:.1f} | {100 * (twin / true - 1):+.1f} % |")


if __name__ == "__main__":
    main()
