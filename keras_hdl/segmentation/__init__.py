"""Automatic LV myocardium segmentation of short-axis cine series (classical: no training data needed).

- :mod:`~keras_hdl.segmentation.locate`: find the LV of a slice (a round, bright, beating
  blood pool in a darker, moving ring);
- :mod:`~keras_hdl.segmentation.contours`: endo- and epicardial borders per frame (shortest
  paths in a polar unwrap, convex cavity, smoothed over the cycle) and per-frame confidence;
- :mod:`~keras_hdl.segmentation.segment`: the whole series (:func:`segment_series`).
"""

from keras_hdl.segmentation.segment import LOW_CONFIDENCE, METHOD, METHOD_VERSION, Segmentation, segment_series

__all__ = ["LOW_CONFIDENCE", "METHOD", "METHOD_VERSION", "Segmentation", "segment_series"]
