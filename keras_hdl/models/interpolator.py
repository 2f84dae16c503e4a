"""Temporal interpolation networks (docs/design.md §2.1): the multi-head multi-tail R2UNet and the vanilla R2UNet.

Both take the same named inputs (channels last, images in [−1, 1], masks in [0, 1])::

    magnitudes (B, H, W, 2)  [M_τ, M_τ+K+1]
    masks      (B, H, W, 2)  [S_τ, S_τ+K+1]
    condition  (B, 3)        [τ/T, (τ+k)/T, (τ+K+1)/T]   (unwrapped frame positions)

and give the same named outputs::

    magnitude  (B, H, W, 1)  M̃_τ+k
    mask       (B, H, W, 1)  S̃_τ+k, probabilities in [0, 1]

H and W must be multiples of 2**(len(widths) − 1).

For inference, :func:`inference_parts` splits a :class:`TemporalInterpolator` whose condition joins only at
the bottleneck into an encoder (the kept pair → features; the same for every target of a gap) and a
decoder (features + condition → outputs), so a gap of K targets runs the encoder once, not K times.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from keras_hdl.models.blocks import (
    BLOCK_LAYOUT,
    PAPER_WIDTHS,
    ConditionMaps,
    SpatialSizeCheck,
    checked_network_config,
    decoder,
    encoder,
    image_input,
    r2unet_features,
    recurrent_residual_block,
    validate_architecture,
)

CONDITION_SIZE = 3


def gap_fraction(condition):
    """Position of the target inside its gap, k/(K+1) = (c1 − c0) / (c2 − c0): (B, 3) → (B, 1).

    The same fraction as the baselines' :func:`~keras_hdl.interpolation.plan.gap_fractions`, unrounded
    (see :data:`~keras_hdl.interpolation.plan.FRACTION_DECIMALS` for why only the baselines round).
    """
    span = ops.maximum(condition[:, 2:3] - condition[:, 0:1], 1e-6)
    return (condition[:, 1:2] - condition[:, 0:1]) / span


def linear_blend(magnitudes, condition):
    """Linear interpolation (1 − w)·M_τ + w·M_τ+K+1 with w = k/(K+1): (B,H,W,2), (B,3) → (B,H,W,1)."""
    weight = ops.reshape(gap_fraction(condition), (-1, 1, 1, 1))
    return (1.0 - weight) * magnitudes[..., 0:1] + weight * magnitudes[..., 1:2]


def interpolation_inputs() -> dict:
    """The three named inputs shared by every interpolation network."""
    return {
        "magnitudes": image_input(2, "magnitudes"),
        "masks": image_input(2, "masks"),
        "condition": keras.Input(shape=(CONDITION_SIZE,), name="condition"),
    }


def _head(channels: int, widths: Sequence[int], recurrence: int, norm: str, name: str) -> keras.Model:
    """An encoder head as its own model: (B,H,W,channels) → features of every level, finest first."""
    x = image_input(channels, f"{name}_input")
    return keras.Model(x, encoder(x, widths, recurrence, norm, name=name), name=name)


def _tail(
    channels: int, recurrence: int, norm: str, activation: str | None, name: str, zero_init: bool = False
) -> keras.Model:
    """A tail as its own model: a recurrent residual block then a 1×1 conv to one channel.

    ``zero_init`` starts the output conv at zero (a residual tail then starts as the identity).
    """
    x = image_input(channels, f"{name}_input")
    y = recurrent_residual_block(x, channels, recurrence, norm, name=name)
    initializer = "zeros" if zero_init else "glorot_uniform"
    y = layers.Conv2D(1, 1, activation=activation, kernel_initializer=initializer, name=f"{name}_output")(y)
    return keras.Model(x, y, name=name)


@keras.saving.register_keras_serializable(package="keras_hdl")
class TemporalInterpolator(keras.Model):
    """Multi-head multi-tail R2UNet: predicts the magnitude and mask of frame τ+k.

    Two encoder heads with their own weights (``magnitude_head`` on the two magnitudes,
    ``mask_head`` on the two masks) are fused by concatenation at every level; the
    condition maps join at the bottleneck (and at the heads' inputs when
    ``condition_at_input``). A shared decoder trunk feeds two tails with their own
    weights: ``image_tail`` (linear) whose output is a residual over the linear
    interpolation of the two magnitudes (its last conv starts at zero, so an untrained
    model is exactly linear interpolation), and ``mask_tail`` (sigmoid).

    Args:
        widths: channels per level, finest first (paper: 64, 128, 256, 512, 1024).
        recurrence: t, the steps of each recurrent unit (paper: 2).
        norm: ``"batch"`` or ``"instance"``.
        condition_at_input: also feed the condition maps to both heads.
    """

    def __init__(
        self,
        widths: Sequence[int] = PAPER_WIDTHS,
        recurrence: int = 2,
        norm: str = "batch",
        condition_at_input: bool = False,
        **kwargs,
    ):
        widths = validate_architecture(widths, recurrence, norm)
        inputs = interpolation_inputs()
        size_check = SpatialSizeCheck(2 ** (len(widths) - 1), name="size_check")
        magnitudes, masks = size_check(inputs["magnitudes"]), size_check(inputs["masks"])
        condition = inputs["condition"]
        head_channels = 2
        if condition_at_input:
            input_maps = ConditionMaps(name="input_condition_maps")([condition, magnitudes])
            magnitudes = layers.Concatenate(name="magnitudes_with_condition")([magnitudes, input_maps])
            masks = layers.Concatenate(name="masks_with_condition")([masks, input_maps])
            head_channels += CONDITION_SIZE

        magnitude_head = _head(head_channels, widths, recurrence, norm, name="magnitude_head")
        mask_head = _head(head_channels, widths, recurrence, norm, name="mask_head")
        magnitude_features, mask_features = magnitude_head(magnitudes), mask_head(masks)
        skips = [
            layers.Concatenate(name=f"fuse_level{level}")([from_magnitudes, from_masks])
            for level, (from_magnitudes, from_masks) in enumerate(
                zip(magnitude_features[:-1], mask_features[:-1], strict=True)
            )
        ]
        bottleneck_maps = ConditionMaps(name="condition_maps")([condition, magnitude_features[-1]])
        bottom = layers.Concatenate(name="fuse_bottleneck")(
            [magnitude_features[-1], mask_features[-1], bottleneck_maps]
        )
        bottom = recurrent_residual_block(bottom, widths[-1], recurrence, norm, name="bottleneck")
        trunk = decoder(bottom, skips, widths, recurrence, norm, name="trunk")

        image_tail = _tail(widths[0], recurrence, norm, activation=None, name="image_tail", zero_init=True)
        mask_tail = _tail(widths[0], recurrence, norm, activation="sigmoid", name="mask_tail")
        blend = linear_blend(inputs["magnitudes"], condition)
        # float32 under any dtype policy: the linear part keeps full precision, only the residual is rounded.
        magnitude = layers.Add(name="magnitude", dtype="float32")([blend, image_tail(trunk)])
        super().__init__(inputs=inputs, outputs={"magnitude": magnitude, "mask": mask_tail(trunk)}, **kwargs)

        self.widths = widths
        self.recurrence = recurrence
        self.norm = norm
        self.condition_at_input = condition_at_input
        self.magnitude_head = magnitude_head
        self.mask_head = mask_head
        self.image_tail = image_tail
        self.mask_tail = mask_tail
        # Where the graph splits (inference_parts): the condition-independent features of the kept pair.
        self._encoder_features = {
            **{f"skip{level}": skip for level, skip in enumerate(skips)},
            "magnitude_bottom": magnitude_features[-1],
            "mask_bottom": mask_features[-1],
        }
        for name, tensor in self._encoder_features.items():
            tensor.name = name  # a dict of inputs to a Keras model is matched by the tensors' names

    def split(self) -> tuple[keras.Model, keras.Model]:
        """The network as an encoder and a decoder that share its layers (and so its weights)::

            encoder: magnitudes, masks (B, H, W, 2) → skip<l> (B, H/2^l, W/2^l, 2·widths[l]) for l < L − 1,
                     magnitude_bottom, mask_bottom (B, H/2^(L−1), W/2^(L−1), widths[-1])
            decoder: those features, magnitudes (B, H, W, 2) (for the linear blend) and condition (B, 3)
                     → magnitude, mask (B, H, W, 1): the network's outputs

        Only for a network whose condition joins at the bottleneck (not ``condition_at_input``).
        """
        if self.condition_at_input:
            raise ValueError("this TemporalInterpolator feeds the condition to its heads: it has no encoder to split")
        pair = {name: self.input[name] for name in ("magnitudes", "masks")}
        encoder = keras.Model(pair, self._encoder_features, name=f"{self.name}_encoder")
        blend_inputs = {name: self.input[name] for name in ("magnitudes", "condition")}
        decoder = keras.Model(self._encoder_features | blend_inputs, self.output, name=f"{self.name}_decoder")
        return encoder, decoder

    def get_config(self):
        return {
            "widths": list(self.widths),
            "recurrence": self.recurrence,
            "norm": self.norm,
            "condition_at_input": self.condition_at_input,
            "block_layout": BLOCK_LAYOUT,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**checked_network_config(config, cls.__name__))


def inference_parts(network: keras.Model) -> dict[str, keras.Model]:
    """The models inference runs for an interpolation network, by name.

    ``{"interpolator_encoder", "interpolator_decoder"}`` (:meth:`TemporalInterpolator.split`) where the
    condition joins only at the bottleneck; ``{"interpolator": network}`` for any other (the vanilla
    R2UNet, a condition at the heads' inputs), which runs whole for every target.
    """
    if isinstance(network, TemporalInterpolator) and not network.condition_at_input:
        encoder, decoder = network.split()
        return {"interpolator_encoder": encoder, "interpolator_decoder": decoder}
    return {"interpolator": network}


@keras.saving.register_keras_serializable(package="keras_hdl")
class VanillaR2UNetInterpolator(keras.Model):
    """The vanilla R2UNet baseline: one head, one tail, 6 input and 2 output channels.

    The inputs are stacked as [M_τ, M_τ+K+1, S_τ, S_τ+K+1, τ/T map, k/(K+1) map] (the
    paper's two condition maps, τ and k, with k as the fraction of the gap so that one
    model serves every K); the two output channels are the magnitude (linear) and the
    mask (sigmoid). There is no residual over linear interpolation: this is the plain
    network the paper compares against.
    """

    def __init__(self, widths: Sequence[int] = PAPER_WIDTHS, recurrence: int = 2, norm: str = "batch", **kwargs):
        widths = validate_architecture(widths, recurrence, norm)
        inputs = interpolation_inputs()
        size_check = SpatialSizeCheck(2 ** (len(widths) - 1), name="size_check")
        magnitudes, masks = size_check(inputs["magnitudes"]), size_check(inputs["masks"])
        condition = inputs["condition"]
        two_maps = ops.concatenate([condition[:, 0:1], gap_fraction(condition)], axis=-1)
        maps = ConditionMaps(name="condition_maps")([two_maps, magnitudes])
        stacked = layers.Concatenate(name="stack_inputs")([magnitudes, masks, maps])
        features = r2unet_features(stacked, widths, recurrence, norm, name="r2unet")
        both = layers.Conv2D(2, 1, name="output")(features)
        outputs = {"magnitude": both[..., 0:1], "mask": ops.sigmoid(both[..., 1:2])}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.widths = widths
        self.recurrence = recurrence
        self.norm = norm

    def get_config(self):
        return {
            "widths": list(self.widths),
            "recurrence": self.recurrence,
            "norm": self.norm,
            "block_layout": BLOCK_LAYOUT,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**checked_network_config(config, cls.__name__))
