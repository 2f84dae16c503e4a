"""The built-in phantom: physically consistent synthetic 3Dir MVM acquisitions with known velocities.

Modules: :mod:`~keras_hdl.phantom.config` (settings and random draws),
:mod:`~keras_hdl.phantom.motion` (analytic motion, sign conventions),
:mod:`~keras_hdl.phantom.render` (images), :mod:`~keras_hdl.phantom.truth` (ground truth),
:mod:`~keras_hdl.phantom.generate` (one scan in memory), :mod:`~keras_hdl.phantom.dataset`
(a dataset on disk), :mod:`~keras_hdl.phantom.preview` (PNG montage).

Typical use::

    series, truth = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=20, size=64))
    manifest = write_dataset("out", PhantomConfig(subjects=3), preview=True)
"""

from keras_hdl.phantom.config import PhantomConfig, SubjectParams, draw_subject
from keras_hdl.phantom.dataset import SCAN_WRITERS, load_manifest, write_dataset
from keras_hdl.phantom.generate import generate_scan, phantom_scan
from keras_hdl.phantom.motion import SliceMotion, slice_motion
from keras_hdl.phantom.preview import write_preview
from keras_hdl.phantom.scan import ScanParams, draw_scan
from keras_hdl.phantom.truth import TISSUE_NAMES, GroundTruth, load_truth

__all__ = [
    "SCAN_WRITERS",
    "TISSUE_NAMES",
    "GroundTruth",
    "PhantomConfig",
    "ScanParams",
    "SliceMotion",
    "SubjectParams",
    "draw_scan",
    "draw_subject",
    "generate_scan",
    "load_manifest",
    "load_truth",
    "phantom_scan",
    "slice_motion",
    "write_dataset",
    "write_preview",
]
