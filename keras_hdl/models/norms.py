"""The normalisation layers of every network here, and batch norm's training pass as one fused op.

Keras 3's ``BatchNormalization`` normalises a training batch with separate ops (moments, subtract,
multiply, ... and as many again in the backward pass: about 20 % of a ``cpu``-preset pix2pix step's
CPU time, measured with ``python -m keras_hdl.benchmarks.profile``). On the TensorFlow back end,
:class:`BatchNormalization` runs that pass as TensorFlow's fused kernel (``FusedBatchNormV3``,
oneDNN on CPU, cuDNN on GPU), with the same output, batch statistics and moving-statistics update as
Keras (float32 rounding). Inference, and every other case, is Keras' own code.
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


def make_norm(norm: str | None, name: str, channels: int | None = None) -> keras.layers.Layer | None:
    """Batch norm, instance norm (one group per channel), group norm (``channels`` / 8 per group), or None."""
    if norm is None:
        return None
    if norm == "batch":
        return BatchNormalization(name=name)
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    if norm == "group":
        groups = GROUP_NORM_GROUPS if channels is None or channels % GROUP_NORM_GROUPS == 0 else 1
        return layers.GroupNormalization(groups=groups, epsilon=1e-5, name=name)
    raise InputError(f"norm: use one of {list(NORMS)} or None, got {norm!r}")
