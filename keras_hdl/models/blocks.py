"""R2UNet building blocks (Alom et al. 2018), channels last, shared by every network here.

- :class:`ConvNormAct`: conv → optional norm → activation; the one conv-norm-act unit.
- :class:`RecurrentUnit`: x1 = f_0(x); then x1 = f_s(x + x1) for s = 1..``recurrence``, where
  every f_s is conv3x3 + norm + ReLU with **one conv shared by every step** and **its own
  norm per step** (see the class docstring for why).
- :func:`recurrent_residual_block`: 1×1 conv to the width, two recurrent units, residual add.
- :func:`encoder` / :func:`decoder`: max-pool down blocks and upsample-conv-concat up blocks.

Widths list one entry per level (finest first); a network with ``len(widths)`` levels
pools ``len(widths) − 1`` times, so its inputs must be a multiple of ``2**(len(widths) − 1)``
pixels high and wide (:class:`SpatialSizeCheck` rejects other sizes with a clear message).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from keras_hdl.errors import InputError
from keras_hdl.models.norms import NORMS, fused_batch_norm, make_norm, update_moving_statistics

PAPER_WIDTHS = (64, 128, 256, 512, 1024)  # channels per level, finest first (docs/design.md §2.1)
BLOCK_LAYOUT = 2
"""Version of the R2 block's weight layout, stored in every network's config.

1 (keras-hdl 0.1): one norm shared by the steps of a recurrent unit; inference collapsed.
2: one norm per recurrent step. Networks of another layout are refused when loaded."""
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
LEAKY_SLOPE = 0.2


def validate_architecture(widths: Sequence[int], recurrence: int, norm: str) -> tuple[int, ...]:
    """Check the shared R2UNet arguments; return the widths as a tuple of ints."""
    widths = tuple(widths)
    if len(widths) < 2 or not all(isinstance(w, int) and w > 0 for w in widths):
        raise InputError(f"widths: need two or more positive integers (one per level), got {list(widths)}")
    if not isinstance(recurrence, int) or recurrence < 1:
        raise InputError(f"recurrence: need an integer t >= 1 (the paper uses 2), got {recurrence!r}")
    if norm not in NORMS:
        raise InputError(f"norm: use one of {list(NORMS)}, got {norm!r}")
    return widths


def checked_network_config(config: dict, network: str) -> dict:
    """``config`` without its ``block_layout`` entry; an :class:`InputError` for another layout.

    Networks saved before the per-step normalisation (no ``block_layout``, i.e. layout 1)
    would otherwise load into a graph whose weights do not match theirs.
    """
    config = dict(config)
    layout = config.pop("block_layout", 1)
    if layout != BLOCK_LAYOUT:
        raise InputError(
            f"this {network} was saved with R2 block layout {layout} (one batch norm shared by the steps of each "
            f"recurrent unit, which collapses at inference); this keras-hdl builds layout {BLOCK_LAYOUT} "
            "(one norm per step). Retrain it with `keras-hdl train` (or use the shipped weights) and re-export "
            "any SavedModel / TFLite made from it"
        )
    return config


def activate(x, activation: str | None):
    """Apply one of :data:`ACTIVATIONS` (or none)."""
    if activation == "leaky_relu":
        return ops.leaky_relu(x, negative_slope=LEAKY_SLOPE)
    if activation is not None:
        return getattr(ops, activation)(x)
    return x


@keras.saving.register_keras_serializable(package="keras_hdl")
class ConvNormAct(keras.layers.Layer):
    """Conv2D ('same' padding) → optional norm → optional activation.

    Input (B, H, W, C_in) → output (B, H / strides, W / strides, filters). Calling one
    instance several times reuses its weights (the recurrent units rely on this).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        strides: int = 1,
        norm: str | None = "batch",
        activation: str | None = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation is not None and activation not in ACTIVATIONS:
            raise InputError(f"activation: use one of {list(ACTIVATIONS)} or None, got {activation!r}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.norm = norm
        self.activation = activation
        # A norm right after the conv makes its bias redundant.
        self.conv = layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=norm is None, name="conv"
        )
        self.norm_layer = make_norm(norm, name="norm", channels=filters)

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.norm_layer is not None:
            self.norm_layer.build(self.conv.compute_output_shape(input_shape))
        super().build(input_shape)

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        if self.norm_layer is not None:
            x = self.norm_layer(x, training=training)
        return activate(x, self.activation)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "norm": self.norm,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="keras_hdl")
class SpatialSizeCheck(keras.layers.Layer):
    """Identity that rejects images whose height or width is not a multiple of ``multiple``.

    The check runs whenever the spatial size is known (eager calls, ``predict`` on fixed
    shapes, export with fixed shapes): an :class:`InputError` names the size and the fix.
    """

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        for size in (height, width):
            if size is not None and size % self.multiple:
                raise InputError(
                    f"input images are {height}×{width} pixels; this network pools {self.multiple.bit_length() - 1} "
                    f"times, so height and width must be multiples of {self.multiple} "
                    f"(crop or pad to e.g. {max(self.multiple, size // self.multiple * self.multiple)})"
                )
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="keras_hdl")
class ConditionMaps(keras.layers.Layer):
    """Broadcast a per-sample condition vector to constant maps the size of a feature map.

    Inputs ``[condition (B, N), reference (B, h, w, C)]`` → (B, h, w, N).
    """

    def call(self, inputs):
        condition, reference = inputs
        shape = ops.shape(reference)
        maps = ops.expand_dims(ops.expand_dims(ops.cast(condition, reference.dtype), 1), 1)
        return ops.broadcast_to(maps, (shape[0], shape[1], shape[2], ops.shape(condition)[-1]))

    def compute_output_shape(self, input_shapes):
        condition_shape, reference_shape = input_shapes
        return (*reference_shape[:3], condition_shape[-1])


@keras.saving.register_keras_serializable(package="keras_hdl")
class RecurrentUnit(keras.layers.Layer):
    """The R2 recurrent unit: x1 = f_0(x), then x1 = f_s(x + x1) for s = 1..``recurrence``.

    (B, H, W, filters) → (B, H, W, filters). Each f_s is conv3x3 → norm_s → ReLU: the conv
    weights are **shared** by every step (that is the recurrence), the normalisation is
    **per step**. The steps see inputs with different statistics (x alone, then x plus a
    growing state): one shared batch norm keeps moving statistics that fit none of them,
    so at inference (``training=False``) the first step is over-normalised and the error
    compounds with depth until the output is nearly constant (measured on the 0.1
    networks: 0–3 % of the training-time activation variance at the last decoder level;
    the authors' code shares the norm the same way). Batch norm per step reached the same
    validation error as group norm at the same budget (docs/results/normalisation.md); the
    ``norm`` argument also takes ``group`` and ``instance``.
    """

    recompute = False
    """Recompute the steps in the backward pass instead of keeping their activations (training only; memory
    for compute): set by :func:`set_recompute`, not saved with the network."""

    def __init__(self, filters: int, recurrence: int = 2, norm: str | None = "batch", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.recurrence = recurrence
        self.norm = norm
        self.conv = layers.Conv2D(filters, 3, padding="same", use_bias=norm is None, name="conv")
        self.norms = [make_norm(norm, name=f"norm{step}", channels=filters) for step in range(recurrence + 1)]

    def build(self, input_shape):
        self.conv.build(input_shape)
        for norm_layer in self.norms:
            if norm_layer is not None:
                norm_layer.build(self.conv.compute_output_shape(input_shape))
        super().build(input_shape)

    def _step(self, x, step: int, training, batch_moments: list | None = None):
        norm = self.norms[step]
        foldable = isinstance(norm, layers.BatchNormalization) and norm.scale and norm.center and x.dtype == "float32"
        if foldable and not training:
            return self._folded_step(x, norm)
        x = self.conv(x)
        if norm is not None and batch_moments is not None:
            normalised, mean, variance = fused_batch_norm(norm, x)
            x = ops.cast(normalised, x.dtype)
            batch_moments.append((mean, variance))
        elif norm is not None:
            x = norm(x, training=training)
        return ops.relu(x)

    def _folded_step(self, x, norm: layers.BatchNormalization):
        """An inference step with its batch norm folded into the conv: ReLU(x ⊛ W·s + β − μ·s), s = γ / √(σ² + ε)
        from the moving statistics; the same result to float32 rounding, one fused conv + bias + ReLU instead of
        a conv and two element-wise passes over its output. float32 only: rounding the folded kernel to bfloat16
        made a bf16 step's mean error 1.5× larger."""
        scale = norm.gamma * ops.rsqrt(norm.moving_variance + norm.epsilon)
        bias = norm.beta - norm.moving_mean * scale
        return ops.relu(ops.conv(x, self.conv.kernel * scale, padding="same") + bias)

    def _steps(self, inputs, training, batch_moments: list | None = None):
        state = self._step(inputs, 0, training, batch_moments)
        for step in range(1, self.recurrence + 1):
            state = self._step(inputs + state, step, training, batch_moments)
        return state

    def call(self, inputs, training=None):
        if not (training and self.recompute):
            return self._steps(inputs, training)
        if self.norm != "batch":  # stateless norms: the steps can be recomputed as they are
            return keras.remat(lambda x: self._steps(x, training))(inputs)

        # Batch norm updates its moving statistics as it runs, and an update made inside the
        # recomputed function is lost (measured: the moving mean moved 1 % as far as without
        # recomputation). So the steps use the batch statistics and hand them out, and the
        # moving averages are updated here, once, exactly as BatchNormalization does.
        def unit(x):
            batch_moments = []
            return self._steps(x, training, batch_moments), batch_moments

        state, batch_moments = keras.remat(unit)(inputs)
        for norm, (mean, variance) in zip(self.norms, batch_moments, strict=True):
            update_moving_statistics(norm, ops.stop_gradient(mean), ops.stop_gradient(variance))
        return state

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "recurrence": self.recurrence, "norm": self.norm}


def set_recompute(network: keras.Model, recompute: bool | int) -> int:
    """Switch recomputation of ``network``'s :class:`RecurrentUnit` s; returns how many are recomputed.

    ``True``: every unit; ``False``: none; an int N: the units of at most N channels. A recomputed
    unit keeps only its input for the backward pass and runs its ``recurrence + 1`` steps again
    there. A unit stores H·W·C activations per step for 9·H·W·C² multiply-adds, so memory per
    FLOP falls as 1 / C: a limit recomputes the narrow, large-image levels, which hold most of the
    activations, and keeps the wide, small-image ones, which hold most of the compute.
    """
    units = recurrent_units(network)
    for unit in units:
        unit.recompute = recompute if isinstance(recompute, bool) else unit.filters <= recompute
    return sum(unit.recompute for unit in units)


def recurrent_units(network: keras.Model) -> list[RecurrentUnit]:
    """Every :class:`RecurrentUnit` inside ``network``, nested layers included."""
    return [layer for layer in network._flatten_layers(include_self=False) if isinstance(layer, RecurrentUnit)]


def recurrent_unit(x, filters: int, recurrence: int, norm: str, name: str):
    """One :class:`RecurrentUnit` applied to ``x`` (B, H, W, filters) → (B, H, W, filters)."""
    return RecurrentUnit(filters, recurrence, norm, name=name)(x)


def recurrent_residual_block(x, filters: int, recurrence: int, norm: str, name: str):
    """1×1 conv to ``filters`` channels, two recurrent units, residual add: (B,H,W,C) → (B,H,W,filters)."""
    x = layers.Conv2D(filters, 1, name=f"{name}_project")(x)
    y = recurrent_unit(x, filters, recurrence, norm, name=f"{name}_unit1")
    y = recurrent_unit(y, filters, recurrence, norm, name=f"{name}_unit2")
    return layers.Add(name=f"{name}_residual")([x, y])


def encoder(x, widths: Sequence[int], recurrence: int, norm: str, name: str) -> list:
    """Down path: a recurrent residual block per level, 2×2 max-pool between levels.

    Returns the features of every level, finest first: (B, H / 2**i, W / 2**i, widths[i]).
    """
    features = []
    for level, width in enumerate(widths):
        if level:
            x = layers.MaxPooling2D(2, name=f"{name}_pool{level}")(x)
        x = recurrent_residual_block(x, width, recurrence, norm, name=f"{name}_level{level}")
        features.append(x)
    return features


def decoder(bottom, skips: Sequence, widths: Sequence[int], recurrence: int, norm: str, name: str):
    """Up path: per level, upsample ×2 + conv-norm-ReLU, concatenate the skip, recurrent residual block.

    ``bottom`` is (B, H / 2**(L−1), W / 2**(L−1), C); ``skips[i]`` is level i's features.
    Returns (B, H, W, widths[0]).
    """
    x = bottom
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, name=f"{name}_upsample{level}")(x)
        x = ConvNormAct(widths[level], 3, norm=norm, activation="relu", name=f"{name}_upconv{level}")(x)
        x = layers.Concatenate(name=f"{name}_skip{level}")([skips[level], x])
        x = recurrent_residual_block(x, widths[level], recurrence, norm, name=f"{name}_level{level}")
    return x


def r2unet_features(x, widths: Sequence[int], recurrence: int, norm: str, name: str):
    """The plain R2UNet body: encoder and decoder with skips; (B,H,W,C) → (B,H,W,widths[0])."""
    features = encoder(x, widths, recurrence, norm, name=f"{name}_encoder")
    return decoder(features[-1], features[:-1], widths, recurrence, norm, name=f"{name}_decoder")


def image_input(channels: int, name: str, dtype: str = "float32"):
    """A channels-last image input of any height and width."""
    return keras.Input(shape=(None, None, channels), name=name, dtype=dtype)
