"""The figures of phantom v2 that the tests bound but do not print: the assessment's error against the ground truth
on noisy scans of every variant (truth masks, no networks), with and without background correction.

    .venv/bin/python scripts/phantom_v2_checks.py [--subjects 6]

Per variant: the RMSE (mm/s) of the global radial / circumferential / longitudinal curves against
``truth.npz``, averaged over slices and frames, mean over the subjects' scans; varied acquisitions
also by SNR band.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from keras_hdl.assessment import AssessmentOptions, assess_series
from keras_hdl.phantom import PhantomConfig, draw_scan, draw_subject, generate_scan
from keras_hdl.phantom.config import REALISM_V2

VARIANTS = {
    "v1 (default)": {},
    "v2 anatomy, fixed acquisition": {"anatomy": "v2"},
    "v2 (anatomy + varied acquisition)": REALISM_V2,
    "v2 + eddy currents": {**REALISM_V2, "eddy_currents": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("variant | correction | RMSE radial / circumferential / longitudinal (mm/s)")
    for name, settings in VARIANTS.items():
        config = PhantomConfig(subjects=args.subjects, seed=args.seed, **settings)
        errors: dict[bool, list[np.ndarray]] = defaultdict(list)
        by_band: dict[str, list[np.ndarray]] = defaultdict(list)
        for index in range(config.subjects):
            subject = draw_subject(config.seed, index, config.anatomy)
            scan = draw_scan(config.seed, index, 0, config)
            series, truth = generate_scan(subject, scan, config)
            for correction in (False, True) if config.eddy_currents else (False,):
                curves = assess_series(series, AssessmentOptions(background_correction=correction)).global_curves
                rmse = np.sqrt(((curves - truth.curves_mm_s) ** 2).mean(axis=(0, 2)))
                errors[correction].append(rmse)
                if correction == config.eddy_currents:
                    by_band[scan.acquisition_for(subject, config).snr_band].append(rmse)
        for correction, values in errors.items():
            mean = np.mean(values, axis=0)
            worst = np.max(values, axis=0)
            print(
                f"{name} | {'on' if correction else 'off'} | mean {' / '.join(f'{v:.2f}' for v in mean)}, "
                f"worst {' / '.join(f'{v:.2f}' for v in worst)}"
            )
        if config.acquisition == "varied":
            for band, values in sorted(by_band.items()):
                print(
                    f"    SNR {band} ({len(values)} scans): {' / '.join(f'{v:.2f}' for v in np.mean(values, axis=0))}"
                )


if __name__ == "__main__":
    main()
