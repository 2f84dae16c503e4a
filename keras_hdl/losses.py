"""Training losses (docs/design.md §2.1, §2.2), in TensorFlow, channels last.

Every loss returns **one value per sample**, shape (B,), so that a train step can
average over the *global* batch (``tf.nn.compute_average_loss``) and stay correct under
a distribution strategy with several replicas. Arguments are checked in ``__init__``.

- :class:`WeightedMAE`: paper Eq. 1, Σ ω·|ŷ − y| / Σ ω with ω = 1 on a region and
  ``low_weight`` (0.1) elsewhere; with ``low_weight=0`` it is the MAE inside the region
  (the pix2pix L1 on the foreground and on the myocardium).
- :class:`SoftDiceLoss`: 1 − soft Dice; identical masks give 0.
- :class:`LeastSquaresGANLoss`: the least-squares GAN losses of both networks.
- :func:`lv_region` (ω1) and :func:`foreground_region` (ω2): the same regions as
  :mod:`keras_hdl.metrics` defines in numpy, as float {0, 1} tensors for the graph.
- :func:`myocardial_velocity` and :class:`VelocityCurveL1`: the velocity assessment of
  :mod:`keras_hdl.assessment.velocity` as a differentiable function of the phase, and an
  L1 on its per-frame radial / circumferential / longitudinal means (beyond the paper).
"""

from __future__ import annotations

import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.metrics import FOREGROUND_THRESHOLD, LV_PADDING_PX, MASK_THRESHOLD


def _per_sample_sum(values: tf.Tensor) -> tf.Tensor:
    """Sum over every axis but the batch axis: (B, ...) → (B,)."""
    return tf.reduce_sum(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)


def _per_sample_mean(values: tf.Tensor) -> tf.Tensor:
    """Mean over every axis but the batch axis: (B, ...) → (B,)."""
    return tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)


def lv_region(mask: tf.Tensor, padding_px: int = LV_PADDING_PX) -> tf.Tensor:
    """ω1 region: the myocardium mask (> 0.5) dilated by ``padding_px`` pixels (square); (B,H,W,C) → {0,1}."""
    binary = tf.cast(mask > MASK_THRESHOLD, tf.float32)
    if padding_px == 0:
        return binary
    return tf.nn.max_pool2d(binary, ksize=2 * padding_px + 1, strides=1, padding="SAME")


def foreground_region(magnitude: tf.Tensor, threshold: float = FOREGROUND_THRESHOLD) -> tf.Tensor:
    """ω2 region: normalised magnitude > ``threshold``; (B,H,W,C) → float {0, 1}."""
    return tf.cast(magnitude > threshold, tf.float32)


def mean_absolute_error(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Plain MAE per sample: (B, H, W, C) → (B,)."""
    return _per_sample_mean(tf.abs(y_pred - tf.cast(y_true, y_pred.dtype)))


class WeightedMAE:
    """Weighted mean absolute error, paper Eq. 1, per sample.

    loss_b = Σ ω·|ŷ − y| / Σ ω over the pixels and channels of sample b, with ω = 1
    where ``region`` is 1 and ``low_weight`` elsewhere. With ``low_weight=0`` it is the
    MAE inside the region (0 for an empty region) and pixels outside get no gradient.

    Args:
        low_weight: ω outside the region, in [0, 1] (paper: 0.1).

    Call ``(y_true, y_pred, region)``: y_true, y_pred (B, H, W, C); region (B, H, W, 1)
    or (B, H, W, C) in {0, 1}. Returns (B,).
    """

    def __init__(self, low_weight: float = 0.1):
        if not 0.0 <= low_weight <= 1.0:
            raise InputError(f"low_weight: the weight outside the region must lie in [0, 1], got {low_weight}")
        self.low_weight = float(low_weight)

    def __call__(self, y_true: tf.Tensor, y_pred: tf.Tensor, region: tf.Tensor) -> tf.Tensor:
        error = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        weight = self.low_weight + (1.0 - self.low_weight) * tf.broadcast_to(
            tf.cast(region, error.dtype), tf.shape(error)
        )
        return _per_sample_sum(weight * error) / tf.maximum(_per_sample_sum(weight), 1e-12)


class SoftDiceLoss:
    """1 − soft Dice per sample: 1 − (2 Σ p·y + s) / (Σ p + Σ y + s).

    Args:
        smooth: s > 0, keeps empty masks defined (two empty masks give 0).

    Call ``(y_true, y_pred)``: (B, H, W, C) in [0, 1]. Returns (B,); identical binary masks give 0.
    """

    def __init__(self, smooth: float = 1e-5):
        if not smooth > 0:
            raise InputError(f"smooth: must be > 0 to keep empty masks defined, got {smooth}")
        self.smooth = float(smooth)

    def __call__(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y_true = tf.cast(y_true, y_pred.dtype)
        overlap = _per_sample_sum(y_true * y_pred)
        total = _per_sample_sum(y_true) + _per_sample_sum(y_pred)
        return 1.0 - (2.0 * overlap + self.smooth) / (total + self.smooth)


class LeastSquaresGANLoss:
    """Least-squares GAN losses (Mao et al. 2017) on patch scores (B, h, w, 1), per sample.

    - ``discriminator(real, fake)`` = ½ [mean((D(real) − a)²) + mean((D(fake) − b)²)]
      (the ½ is pix2pix's: it slows D relative to G);
    - ``generator(fake)`` = mean((D(fake) − a)²).

    Args:
        real_label: a, the target score of real images (1). fake_label: b (0). They must differ.
    """

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0):
        if real_label == fake_label:
            raise InputError(f"real_label and fake_label must differ, got both {real_label}")
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)

    def discriminator(self, real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
        real = _per_sample_mean(tf.square(real_scores - self.real_label))
        fake = _per_sample_mean(tf.square(fake_scores - self.fake_label))
        return 0.5 * (real + fake)

    def generator(self, fake_scores: tf.Tensor) -> tf.Tensor:
        return _per_sample_mean(tf.square(fake_scores - self.real_label))


def myocardial_velocity(velocity_cm_s: tf.Tensor, mask: tf.Tensor, pixel_spacing: tf.Tensor) -> tf.Tensor:
    """Mean radial, circumferential and longitudinal myocardial velocity of each frame, differentiably.

    The conventions of :func:`keras_hdl.assessment.assess_velocity` (a test checks they agree):
    the mean in-plane velocity over the myocardium (bulk motion) is removed, the origin is
    the myocardium centroid, offsets are in mm; radial is positive towards the centre,
    circumferential counter-clockwise as displayed, longitudinal = z.

    Args:
        velocity_cm_s: (B, H, W, 3) image-axis (x, y, z) velocity, cm/s (normalised phase × venc).
        mask: (B, H, W, 1) myocardium, {0, 1} (> 0.5 counts).
        pixel_spacing: (B, 2) mm, (row, column).

    Returns:
        (B, 3) mean (radial, circumferential, longitudinal) velocity, cm/s; 0 for an empty mask.
    """
    velocity = tf.cast(velocity_cm_s, tf.float32)
    weight = tf.cast(mask[..., 0] > MASK_THRESHOLD, tf.float32)  # (B, H, W)
    count = tf.maximum(tf.reduce_sum(weight, axis=[1, 2]), 1.0)  # (B,)

    def mean(values):  # (B, H, W) → (B, 1, 1) mean over the myocardium
        return (tf.reduce_sum(values * weight, axis=[1, 2]) / count)[:, None, None]

    shape = tf.shape(weight)
    rows = tf.broadcast_to(tf.cast(tf.range(shape[1]), tf.float32)[None, :, None], shape)
    cols = tf.broadcast_to(tf.cast(tf.range(shape[2]), tf.float32)[None, None, :], shape)
    spacing = tf.cast(pixel_spacing, tf.float32)
    dy = (rows - mean(rows)) * spacing[:, 0, None, None]
    dx = (cols - mean(cols)) * spacing[:, 1, None, None]
    vx = velocity[..., 0] - mean(velocity[..., 0])
    vy = velocity[..., 1] - mean(velocity[..., 1])
    radius = tf.sqrt(dx * dx + dy * dy)
    inverse = tf.where(radius > 1e-9, 1.0 / tf.maximum(radius, 1e-9), 0.0)
    radial = -(dx * vx + dy * vy) * inverse
    circumferential = (dy * vx - dx * vy) * inverse
    components = [radial, circumferential, velocity[..., 2]]
    return tf.stack([mean(component)[:, 0, 0] for component in components], axis=-1)


class VelocityCurveL1:
    """L1 between the myocardial velocity means of synthetic and real phase, per sample.

    loss_b = mean over the three components of |v̂_c − v_c| / venc_c, with v the
    :func:`myocardial_velocity` means of frame b (so the loss is in normalised phase units,
    comparable with the pixel L1 terms). It sees the bias of the myocardium as a whole,
    which the pixel L1 (a median estimator, pulled towards 0 by noise) does not.
    """

    def __call__(
        self, real_phase: tf.Tensor, synthetic_phase: tf.Tensor, mask: tf.Tensor, venc: tf.Tensor, pixel_spacing
    ) -> tf.Tensor:
        """Phases (B, H, W, 3) normalised, mask (B, H, W, 1), venc (B, 3) cm/s, pixel_spacing (B, 2) mm → (B,)."""
        venc = tf.cast(venc, tf.float32)[:, None, None, :]
        real = myocardial_velocity(tf.cast(real_phase, tf.float32) * venc, mask, pixel_spacing)
        synthetic = myocardial_velocity(tf.cast(synthetic_phase, tf.float32) * venc, mask, pixel_spacing)
        return tf.reduce_mean(tf.abs(synthetic - real) / venc[:, 0, 0, :], axis=-1)
