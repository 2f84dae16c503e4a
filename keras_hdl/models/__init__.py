"""The networks of docs/design.md §2.1 and §2.2 (channels last, named inputs and outputs).

- :class:`TemporalInterpolator`: the multi-head multi-tail R2UNet (:func:`inference_parts`: its encoder and
  decoder for inference); :class:`VanillaR2UNetInterpolator`.
- :class:`PhaseGenerator` (R2UNet 3 → 3, optional foreground-background composite),
  :class:`PatchDiscriminator`, :class:`ForegroundBackgroundComposite`, :func:`fit_background_noise`.

Every model is registered for ``.keras`` saving; ``get_config`` lists its constructor arguments.
"""

from keras_hdl.models.blocks import ConditionMaps, ConvNormAct, RecurrentUnit, SpatialSizeCheck
from keras_hdl.models.interpolator import TemporalInterpolator, VanillaR2UNetInterpolator, inference_parts
from keras_hdl.models.phase import (
    ForegroundBackgroundComposite,
    PatchDiscriminator,
    PhaseGenerator,
    background_seeds,
    fit_background_noise,
)

__all__ = [
    "ConditionMaps",
    "ConvNormAct",
    "ForegroundBackgroundComposite",
    "PatchDiscriminator",
    "PhaseGenerator",
    "RecurrentUnit",
    "SpatialSizeCheck",
    "TemporalInterpolator",
    "VanillaR2UNetInterpolator",
    "background_seeds",
    "fit_background_noise",
    "inference_parts",
]
