"""Twin fidelity of a models folder on the held-out cases of tests/synthesis/test_twin_fidelity.py, as a table.

    python scripts/compare_weights.py MODELS_DIR

For each case (three phantom v2 scans of a held-out subject, each acquired its own way; the
held-out v1 scan; the v1 scans unlike the training phantom) and K = 0, 6: Pearson of the twin's
global curves against the truth (radial / circumferential / longitudinal / overall, mean over
slices) and the mean radial PSV's relative error. Used to compare retrained weights with the
shipped ones (docs/results/fidelity.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "synthesis"))

import test_twin_fidelity as cases

from keras_hdl.assessment import compute_markers, curve_agreement
from keras_hdl.phantom.config import REALISM_V2, PhantomConfig
from keras_hdl.synthesis import load_local_models


def held_out_cases() -> dict[str, tuple[PhantomConfig, int, dict]]:
    """Case name → (phantom config, rescan, subject changes)."""
    varied = PhantomConfig(subjects=1, seed=cases.HELD_OUT_SEED, **REALISM_V2)
    found = {f"v2 varied acquisition {rescan + 1}": (varied, rescan, {}) for rescan in range(3)}
    found["v1 held-out"] = (PhantomConfig(subjects=1, size=128, seed=cases.HELD_OUT_SEED), 0, {})
    for name, (config_changes, subject_changes) in cases.UNLIKE_THE_PHANTOM.items():
        config = PhantomConfig(**{"subjects": 1, "size": 128, "seed": cases.HELD_OUT_SEED, **config_changes})
        found[f"v1 {name}"] = (config, 0, subject_changes)
    return found


def main(models_dir: str) -> None:
    models = load_local_models(models_dir)
    print("| case | K | Pearson radial / circ. / long. / overall | radial PSV error |")
    print("|---|---|---|---|")
    for name, (config, rescan, subject_changes) in held_out_cases().items():
        series, truth = cases.scan(config, rescan, **subject_changes)
        true_psv = compute_markers(truth.curves_mm_s)["psv"][:, 0].mean()
        for k in (0, 6):
            curves = cases.twin_curves(series, k, models)
            pearson = curve_agreement(curves, truth.curves_mm_s).mean(axis=0)
            psv_error = compute_markers(curves)["psv"][:, 0].mean() / true_psv - 1
            print(f"| {name} | {k} | {' / '.join(f'{p:.3f}' for p in pearson)} | {psv_error:+.0%} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
