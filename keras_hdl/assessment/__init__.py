"""Velocity assessment (docs/design.md §2.3): phase → radial, circumferential and longitudinal curves and markers.

- :mod:`~keras_hdl.assessment.velocity`: conventions, bulk-motion removal, cylindrical
  decomposition, global / sector / layer curves (mm/s), of a series in memory or read slice by slice;
- :mod:`~keras_hdl.assessment.markers`: PSV/TPSV, PDV/TPDV, PAV/TPAV, Mean, windows and peak signs;
- :mod:`~keras_hdl.assessment.agreement`: Pearson correlation against a reference;
- :mod:`~keras_hdl.assessment.report`: tables, CSV, JSON and the curves plot.
"""

from keras_hdl.assessment.agreement import compare, curve_agreement, pearson, twin_velocity_figures
from keras_hdl.assessment.markers import compute_markers, window_masks
from keras_hdl.assessment.report import format_report, plot_curves, report_dict, write_report
from keras_hdl.assessment.velocity import (
    COMPONENT_NAMES,
    Assessment,
    AssessmentOptions,
    assess_series,
    assess_slices,
    assess_velocity,
)

__all__ = [
    "COMPONENT_NAMES",
    "Assessment",
    "AssessmentOptions",
    "assess_series",
    "assess_slices",
    "assess_velocity",
    "compare",
    "compute_markers",
    "curve_agreement",
    "format_report",
    "pearson",
    "plot_curves",
    "report_dict",
    "twin_velocity_figures",
    "window_masks",
    "write_report",
]
