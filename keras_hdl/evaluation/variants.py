"""The velocity figures per acquisition variant: where the twin is weakest.

Test scans are grouped by how they were acquired (phantom v2's varied acquisitions, from
the manifest): pixel spacing, frames per cycle and SNR band, each in a few bands. For every
band and every curve set (the real phase, and the HDL twin at each K) the figures of
:func:`keras_hdl.assessment.twin_velocity_figures` against the phantom's analytic truth are
pooled over the band's slices: the overall Pearson correlation and the relative errors of
the radial and longitudinal PSV. The real phase's row says how hard the acquisition itself
is (noise, coarse pixels); the twins' rows how much the twin loses on top.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.assessment.agreement import twin_velocity_figures
from keras_hdl.evaluation.data import TestScan, TestSet
from keras_hdl.evaluation.statistics import json_number
from keras_hdl.evaluation.velocity import REAL, VelocityCurves
from keras_hdl.markdown import markdown_table

SPACING_BANDS_MM = ((1.8, "< 1.8 mm"), (2.2, "1.8-2.2 mm"), (np.inf, ">= 2.2 mm"))
FRAME_BANDS = ((40, "< 40 frames"), (50, "40-49 frames"), (np.inf, ">= 50 frames"))
FIGURES = ("pearson_overall", "psv_error_radial", "psv_error_longitudinal")
FIGURE_HEADERS = {
    "pearson_overall": "Pearson overall",
    "psv_error_radial": "radial PSV error (rel.)",
    "psv_error_longitudinal": "long. PSV error (rel.)",
}


def _band(value: float, bands: tuple[tuple[float, str], ...]) -> str:
    return next(name for bound, name in bands if value < bound)


def scan_bands(scan: TestScan) -> dict[str, str]:
    """The scan's band per descriptor: ``spacing``, ``frames`` and ``snr`` (``unknown`` without a manifest entry)."""
    acquisition = scan.acquisition or {}
    return {
        "spacing": _band(float(min(scan.series.pixel_spacing)), SPACING_BANDS_MM),
        "frames": _band(scan.series.num_frames, FRAME_BANDS),
        "snr": str(acquisition.get("snr_band", "unknown")),
    }


def variant_results(test_set: TestSet, curves: VelocityCurves) -> dict | None:
    """Per descriptor and band: the scans, slices and pooled figures per curve set; None without analytic truth."""
    if curves.truth is None:
        return None
    columns = {REAL: curves.real, **curves.twins}
    bands = [scan_bands(scan) for scan in test_set.scans]
    results: dict = {"figures": list(FIGURES), "columns": list(columns), "scans": {}, "bands": {}}
    for index, scan in enumerate(test_set.scans):
        results["scans"][scan.scan_id] = {
            **bands[index],
            "pixel_spacing_mm": json_number(float(min(scan.series.pixel_spacing))),
            "frames": scan.series.num_frames,
        }
    for descriptor in ("spacing", "frames", "snr"):
        by_band: dict[str, dict] = {}
        for band in sorted({scan_band[descriptor] for scan_band in bands}):
            members = [i for i, scan_band in enumerate(bands) if scan_band[descriptor] == band]
            truth = [curves.truth[i] for i in members]
            figures = {
                label: twin_velocity_figures([curve_set[i] for i in members], truth)
                for label, curve_set in columns.items()
            }
            by_band[band] = {
                "scans": [test_set.scans[i].scan_id for i in members],
                "slices": sum(test_set.scans[i].series.num_slices for i in members),
                "figures": {label: {name: json_number(f[name]) for name in FIGURES} for label, f in figures.items()},
            }
        results["bands"][descriptor] = by_band
    return results


def variant_table(variants: dict) -> list[str]:
    """Markdown: one row per (descriptor, band, curve set), the pooled figures against the truth."""
    header = ["acquisition", "band", "slices", "curves", *(FIGURE_HEADERS[name] for name in variants["figures"])]
    rows = []
    for descriptor, by_band in variants["bands"].items():
        for band, entry in by_band.items():
            for label, figures in entry["figures"].items():
                cells = ["n/a" if figures[name] is None else f"{figures[name]:.3f}" for name in variants["figures"]]
                rows.append([descriptor, band, entry["slices"], label, *cells])
    return markdown_table(header, rows)
