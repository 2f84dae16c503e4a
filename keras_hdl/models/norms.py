"""The normalisation layers of every network here, and batch norm's training pass as one fused op.

Keras 3's ``BatchNormalization`` normalises a training batch with separate ops (moments, subtract,
multiply, ... and as many again in the backward pass: about 20 % of a ``cpu``-preset pix2pix step's
CPU time, measured with ``python -m keras_hdl.benchmarks.profile``). On the TensorFlow back end,
:class:`BatchNormalization` runs that pass as TensorFlow's fused kernel (``FusedBatchNormV3``,
oneDNN on CPU, cuDNN on GPU), with the same output, batch statistics and moving-statistics update as
Keras (float32 rounding). Inference, and every other case, is Keras' own code.

Instance norm (Keras' ``GroupNormalization`` with one channel per group) is likewise built from fewer
ops: Keras reshapes into groups and differentiates its moments op by op, about 140 graph ops per norm
for the forward and backward pass (4 125 of the tiny phase step's 11 368; every op costs Python time
when a step is traced and a kernel launch when it runs). :class:`GroupNormalization` computes that case
directly on (B, H, W, C) and, in training, with the backward pass written out (:func:`instance_norm`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from keras_hdl.errors import InputError

NORMS = ("batch", "instance", "group")
GROUP_NORM_GROUPS = 8  # "group" norm: channels per group = width / 8 (every preset width is a multiple)


def fused_batch_norm(norm: layers.BatchNormalization, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``norm``'s training-mode output for ``x`` (B, H, W, C) and the batch mean and (biased) variance (C,),
    float32, as Keras computes them, in one fused op; ``norm``'s moving statistics are not touched.

    A bfloat16 ``x`` stays bfloat16 (the kernel sums in float32; output bfloat16): cast to float32 as
    Keras does, the batch norm's float32 input would be kept for the backward pass, twice the memory of
    the bfloat16 one (measured: the ``paper`` preset's bf16 training item, 7.55 → 6.76 GB). Any other
    dtype is normalised in float32."""
    if x.dtype != tf.bfloat16:
        x = tf.cast(x, tf.float32)
    y, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
        x,
        tf.cast(norm.gamma, tf.float32),
        tf.cast(norm.beta, tf.float32),
        epsilon=norm.epsilon,
        data_format="NHWC",
        is_training=True,
    )
    # The kernel returns the variance with Bessel's correction (n / (n − 1)); Keras keeps the biased one.
    count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
    variance = unbiased_variance * ((count - 1.0) / tf.maximum(count, 1.0))
    return y, mean, variance


def update_moving_statistics(norm: layers.BatchNormalization, mean: tf.Tensor, variance: tf.Tensor) -> None:
    """Keras' moving-average update of ``norm``'s statistics with a batch's mean and biased variance (C,)."""
    norm.moving_mean.assign(norm.moving_mean * norm.momentum + mean * (1.0 - norm.momentum))
    norm.moving_variance.assign(norm.moving_variance * norm.momentum + variance * (1.0 - norm.momentum))


@keras.saving.register_keras_serializable(package="keras_hdl")
class BatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same weights, config and inference) whose training pass on
    (B, H, W, C) inputs is :func:`fused_batch_norm` on the TensorFlow back end (module docstring).

    The class keeps Keras' name on purpose: a ``.keras`` file addresses the members of a layer list (the
    recurrent units' per-step norms) by their class's snake-case name, so another name would leave every
    network saved before this class (the shipped weights among them) without its batch norms' weights.
    """

    def call(self, inputs, training=None, mask=None):
        fusable = (
            training
            and self.trainable
            and mask is None
            and not self.renorm
            and self.scale
            and self.center
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = fused_batch_norm(self, inputs)
        update_moving_statistics(self, mean, variance)
        return tf.cast(outputs, self.compute_dtype)


def _normalise_instances(x: tf.Tensor, epsilon: float) -> tuple[tf.Tensor, tf.Tensor]:
    """x (B, H, W, C) float32 → (x − μ) / √(σ² + ε) per sample and channel over H, W, and 1 / √(σ² + ε)
    (B, 1, 1, C); σ² is the biased variance, as Keras' moments."""
    centred = x - tf.reduce_mean(x, axis=(1, 2), keepdims=True)
    inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), axis=(1, 2), keepdims=True) + epsilon)
    return centred * inverse_std, inverse_std


def instance_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float) -> tf.Tensor:
    """Instance norm of x (B, H, W, C) float32 with scale ``gamma`` and offset ``beta`` (C,), differentiable
    through a hand-written backward pass (a dozen ops instead of the hundred of automatic differentiation).

    With x̂ the normalised input, 1/s = 1 / √(σ² + ε) and g = ∂L/∂y · γ, per sample and channel over the
    N = H·W pixels: ∂L/∂x = (g − mean(g) − x̂ · mean(g · x̂)) / s, ∂L/∂γ = Σ ∂L/∂y · x̂, ∂L/∂β = Σ ∂L/∂y.
    """

    @tf.custom_gradient
    def forward(x, gamma, beta):
        normalised, inverse_std = _normalise_instances(x, epsilon)

        def backward(upstream):
            scaled = upstream * gamma
            mean_scaled = tf.reduce_mean(scaled, axis=(1, 2), keepdims=True)
            mean_projection = tf.reduce_mean(scaled * normalised, axis=(1, 2), keepdims=True)
            d_x = inverse_std * (scaled - mean_scaled - normalised * mean_projection)
            return d_x, tf.reduce_sum(upstream * normalised, axis=(0, 1, 2)), tf.reduce_sum(upstream, axis=(0, 1, 2))

        return normalised * gamma + beta, backward

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package="keras_hdl")
class GroupNormalization(layers.GroupNormalization):
    """``keras.layers.GroupNormalization`` (same weights, config and results to float32 rounding) whose
    instance-norm case (one channel per group) on (B, H, W, C) inputs is computed directly on the
    TensorFlow back end, with :func:`instance_norm`'s backward pass in training (module docstring).

    The class keeps Keras' name for the reason :class:`BatchNormalization` does.
    """

    def call(self, inputs, training=None):
        direct = (
            keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.groups == inputs.shape[-1]
            and self.scale
            and self.center
        )
        if not direct:
            return super().call(inputs)
        x = tf.cast(inputs, tf.float32)  # as Keras: statistics in float32 under mixed precision
        gamma, beta = tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32)
        if training:
            outputs = instance_norm(x, gamma, beta, self.epsilon)
        else:
            outputs = _normalise_instances(x, self.epsilon)[0] * gamma + beta
        return tf.cast(outputs, self.compute_dtype)


def make_norm(norm: str | None, name: str, channels: int | None = None) -> keras.layers.Layer | None:
    """Batch norm, instance norm (one group per channel), group norm (``channels`` / 8 per group), or None."""
    if norm is None:
        return None
    if norm == "batch":
        return BatchNormalization(name=name)
    if norm == "instance":
        return GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    if norm == "group":
        groups = GROUP_NORM_GROUPS if channels is None or channels % GROUP_NORM_GROUPS == 0 else 1
        return GroupNormalization(groups=groups, epsilon=1e-5, name=name)
    raise InputError(f"norm: use one of {list(NORMS)} or None, got {norm!r}")
