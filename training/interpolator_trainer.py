"""Train-step model of the temporal interpolator (DESIGN §2.1), optionally with a PatchGAN.

Loss per sample: L = w_mae·MAE + w_w1·MAE_ω1 + w_w2·MAE_ω2 + w_dice·SoftDice (+ w_adv·LSGAN),
with ω = 1 on the highlighted region and 0.1 elsewhere (paper Eq. 1): ω1 highlights the
target's myocardium mask dilated by ``lv_padding_px`` pixels, ω2 the target's pixels of
normalised magnitude > −0.95. Every term is logged raw and weighted. With a
discriminator and ``adversarial_weight`` > 0 this is the paper's GAN temporal baseline
(Table III); the discriminator judges the predicted magnitude given the two input
magnitudes (``image_channels=1``, ``context_channels=2``).

Batches are ``(inputs, targets)`` as made by :func:`keras_hdl.training.data.interpolation_dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.losses import (
    LeastSquaresGANLoss,
    SoftDiceLoss,
    WeightedMAE,
    foreground_region,
    lv_region,
    mean_absolute_error,
)
from keras_hdl.metrics import FOREGROUND_THRESHOLD, LV_PADDING_PX
from keras_hdl.training.steps import (
    combine_terms,
    float32_outputs,
    global_average,
    make_trackers,
    tracker_names,
    update_trackers,
    with_loss_scaling,
)

INTERPOLATION_TERMS = ("mae", "mae_w1", "mae_w2", "dice")
ADVERSARIAL = "adversarial"
DISCRIMINATOR_LOSS = "discriminator_loss"


class InterpolationLoss:
    """The interpolator's loss terms of one batch, per sample, and their weights.

    Args:
        mae_weight, mae_w1_weight, mae_w2_weight, dice_weight: term weights (paper: all 1), >= 0.
        low_weight: ω outside the highlighted regions (paper: 0.1).
        lv_padding_px: dilation of the target myocardium mask that makes ω1, pixels.
        foreground_threshold: normalised magnitude above which a pixel is in ω2.
    """

    def __init__(
        self,
        mae_weight: float = 1.0,
        mae_w1_weight: float = 1.0,
        mae_w2_weight: float = 1.0,
        dice_weight: float = 1.0,
        low_weight: float = 0.1,
        lv_padding_px: int = LV_PADDING_PX,
        foreground_threshold: float = FOREGROUND_THRESHOLD,
    ):
        self.weights = {"mae": mae_weight, "mae_w1": mae_w1_weight, "mae_w2": mae_w2_weight, "dice": dice_weight}
        for name, weight in self.weights.items():
            if weight < 0:
                raise InputError(f"{name}_weight: loss weights must be >= 0, got {weight}")
        if not isinstance(lv_padding_px, int) or lv_padding_px < 0:
            raise InputError(f"lv_padding_px: need an integer >= 0 (pixels), got {lv_padding_px!r}")
        self.weighted_mae = WeightedMAE(low_weight)
        self.dice = SoftDiceLoss()
        self.lv_padding_px = lv_padding_px
        self.foreground_threshold = foreground_threshold

    def terms(self, targets: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Raw terms (B,) from targets and outputs ``magnitude`` (B,H,W,1) and ``mask`` (B,H,W,1)."""
        true_magnitude, predicted = targets["magnitude"], outputs["magnitude"]
        return {
            "mae": mean_absolute_error(true_magnitude, predicted),
            "mae_w1": self.weighted_mae(true_magnitude, predicted, lv_region(targets["mask"], self.lv_padding_px)),
            "mae_w2": self.weighted_mae(
                true_magnitude, predicted, foreground_region(true_magnitude, self.foreground_threshold)
            ),
            "dice": self.dice(targets["mask"], outputs["mask"]),
        }


class InterpolatorTrainer(keras.Model):
    """Wraps an interpolator (and optionally a PatchGAN) with the custom train and test steps.

    Args:
        interpolator: a model with the interpolation inputs and outputs
            (:class:`~keras_hdl.models.TemporalInterpolator` or the vanilla baseline).
        loss: the loss terms and weights (default: the paper's).
        discriminator: optional :class:`~keras_hdl.models.PatchDiscriminator` with
            ``image_channels=1`` and ``context_channels=2`` (GAN temporal baseline).
        adversarial_weight: weight of the generator's LSGAN term (needs a discriminator).

    ``compile(optimizer, discriminator_optimizer=None)``; ``metrics`` lists the trackers.
    Save the interpolator, not the trainer.
    """

    def __init__(
        self,
        interpolator: keras.Model,
        loss: InterpolationLoss | None = None,
        discriminator: keras.Model | None = None,
        adversarial_weight: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if adversarial_weight < 0:
            raise InputError(f"adversarial_weight: must be >= 0, got {adversarial_weight}")
        if adversarial_weight > 0 and discriminator is None:
            raise InputError("adversarial_weight > 0 needs a discriminator (the GAN temporal baseline)")
        if discriminator is not None and (discriminator.image_channels, discriminator.context_channels) != (1, 2):
            raise InputError(
                "the interpolation discriminator judges the magnitude (1 channel) given the two input magnitudes "
                f"(2 channels); got image_channels={discriminator.image_channels}, "
                f"context_channels={discriminator.context_channels}"
            )
        self.interpolator = interpolator
        self.loss_terms = loss or InterpolationLoss()
        self.discriminator = discriminator
        self.adversarial_weight = float(adversarial_weight)
        self.gan_loss = LeastSquaresGANLoss()
        self.term_weights = dict(self.loss_terms.weights)
        names = INTERPOLATION_TERMS
        if discriminator is not None:
            self.term_weights[ADVERSARIAL] = self.adversarial_weight
            names = (*names, ADVERSARIAL)
        logged = tracker_names(names)
        if discriminator is not None:
            logged.append(DISCRIMINATOR_LOSS)
        self.trackers = make_trackers(logged)
        self.discriminator_optimizer = None

    def compile(self, optimizer, discriminator_optimizer=None, **kwargs):
        """Adam lr 1e-3 in the paper. The discriminator's optimizer is required with a discriminator.

        Under the ``mixed_float16`` policy both optimizers are wrapped in a ``LossScaleOptimizer``.
        """
        super().compile(optimizer=with_loss_scaling(optimizer), **kwargs)
        if (self.discriminator is None) != (discriminator_optimizer is None):
            raise InputError("give a discriminator_optimizer exactly when the trainer has a discriminator")
        # Build optimizer state now, in the caller's strategy scope, not lazily inside a replica.
        self.optimizer.build(self.interpolator.trainable_variables)
        if discriminator_optimizer is not None:
            discriminator_optimizer = with_loss_scaling(discriminator_optimizer)
            discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.interpolator(inputs, training=training)

    def _scores(self, magnitude, inputs, training):
        scores = self.discriminator({"image": magnitude, "context": inputs["magnitudes"]}, training=training)
        return float32_outputs(scores)["patches"]

    def _forward_losses(self, inputs, targets, training):
        """Forward pass and every loss: (generator total (B,), logged figures, discriminator loss (B,) or None)."""
        outputs = float32_outputs(self.interpolator(inputs, training=training))
        terms = self.loss_terms.terms(targets, outputs)
        discriminator_loss = None
        if self.discriminator is not None:
            fake_scores = self._scores(outputs["magnitude"], inputs, training)
            real_scores = self._scores(targets["magnitude"], inputs, training)
            terms[ADVERSARIAL] = self.gan_loss.generator(fake_scores)
            discriminator_loss = self.gan_loss.discriminator(real_scores, fake_scores)
        total, logged = combine_terms(terms, self.term_weights)
        if discriminator_loss is not None:
            logged[DISCRIMINATOR_LOSS] = discriminator_loss
        return total, logged, discriminator_loss

    def train_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape, tf.GradientTape() as discriminator_tape:
            total, logged, discriminator_loss = self._forward_losses(inputs, targets, training=True)
            loss = self.optimizer.scale_loss(global_average(total))
            if discriminator_loss is not None:
                discriminator_average = self.discriminator_optimizer.scale_loss(global_average(discriminator_loss))
        variables = self.interpolator.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        if discriminator_loss is not None:
            variables = self.discriminator.trainable_variables
            gradients = discriminator_tape.gradient(discriminator_average, variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, variables, strict=True))
        update_trackers(self.trackers, logged)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, logged, _ = self._forward_losses(inputs, targets, training=False)
        update_trackers(self.trackers, logged)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
