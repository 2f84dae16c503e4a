"""Digital-twin synthesis: a low-frame-rate magnitude series and its kept masks → the full 3Dir MVM twin.

- :mod:`~keras_hdl.synthesis.pipeline`: :func:`synthesize_twin`, :func:`downsample`, the input convention.
- :mod:`~keras_hdl.synthesis.networks`: :class:`TwinModels` (local models folder or TF Serving).
- :mod:`~keras_hdl.synthesis.field_of_view`: the LV crop, resampling and pasting back.
- :mod:`~keras_hdl.synthesis.writer`: ``DIR/series.dcm`` + ``seg.dcm`` + ``twin.npz``, atomically.
"""

from keras_hdl.synthesis.networks import TwinModels, load_local_models, resolve_models_folder
from keras_hdl.synthesis.pipeline import CropTwin, downsample, frame_seeds, synthesize_crops, synthesize_twin

__all__ = [
    "CropTwin",
    "TwinModels",
    "downsample",
    "frame_seeds",
    "load_local_models",
    "resolve_models_folder",
    "synthesize_crops",
    "synthesize_twin",
]
