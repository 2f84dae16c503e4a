"""The interpolation task: the temporal interpolator's losses, train step, validation and run.

Train-step model (docs/design.md §2.1), optionally with a PatchGAN.

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

from keras_hdl import metrics as image_metrics
from keras_hdl.config import Preset, build_from_config
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
from keras_hdl.models.blocks import set_recompute
from keras_hdl.training.adversarial import DISCRIMINATOR_LOSS, AdversarialTrainer
from keras_hdl.training.data import interpolation_dataset
from keras_hdl.training.sources import TrainingData
from keras_hdl.training.steps import combine_terms, float32_outputs, tracker_names
from keras_hdl.training.tasks.base import DEFAULT_VARIANT, Task, adam, float32, mean_figures

INTERPOLATION_TERMS = ("mae", "mae_w1", "mae_w2", "dice")
ADVERSARIAL = "adversarial"


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


class InterpolatorTrainer(AdversarialTrainer):
    """Wraps an interpolator (and optionally a PatchGAN) with the custom train and test steps.

    Args:
        interpolator: a model with the interpolation inputs and outputs
            (:class:`~keras_hdl.models.TemporalInterpolator` or the vanilla baseline).
        loss: the loss terms and weights (default: the paper's).
        discriminator: optional :class:`~keras_hdl.models.PatchDiscriminator` with
            ``image_channels=1`` and ``context_channels=2`` (GAN temporal baseline).
        adversarial_weight: weight of the generator's LSGAN term (needs a discriminator).

    ``compile(optimizer, discriminator_optimizer=None)`` (Adam lr 1e-3 in the paper); ``metrics``
    lists the trackers. Save the interpolator, not the trainer.
    """

    def __init__(
        self,
        interpolator: keras.Model,
        loss: InterpolationLoss | None = None,
        discriminator: keras.Model | None = None,
        adversarial_weight: float = 0.0,
        **kwargs,
    ):
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
        loss_terms = loss or InterpolationLoss()
        term_weights = dict(loss_terms.weights)
        names = INTERPOLATION_TERMS
        if discriminator is not None:
            term_weights[ADVERSARIAL] = float(adversarial_weight)
            names = (*names, ADVERSARIAL)
        logged = tracker_names(names)
        if discriminator is not None:
            logged.append(DISCRIMINATOR_LOSS)
        super().__init__(interpolator, discriminator, logged, **kwargs)
        self.loss_terms = loss_terms
        self.adversarial_weight = float(adversarial_weight)
        self.gan_loss = LeastSquaresGANLoss()
        self.term_weights = term_weights

    @property
    def interpolator(self) -> keras.Model:
        return self.generator

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _scores(self, magnitude, inputs, training):
        scores = self.discriminator({"image": magnitude, "context": inputs["magnitudes"]}, training=training)
        return float32_outputs(scores)["patches"]

    def forward_losses(self, inputs, targets, training):
        """Forward pass and every loss: (generator total (B,), discriminator loss (B,) or None, logged figures)."""
        outputs = float32_outputs(self.generator(inputs, training=training))
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
        return total, discriminator_loss, logged


def validation_metrics(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
    """Validation figures of the interpolator: ω1 = padded LV of the target, ω2 = its foreground; DICE."""
    per_batch = []
    for inputs, targets in dataset:
        outputs = network(inputs, training=False)
        predicted = float32(outputs["magnitude"])[..., 0]
        target = targets["magnitude"].numpy()[..., 0]
        target_mask = targets["mask"].numpy()[..., 0]
        w1, w2 = image_metrics.lv_region(target_mask), image_metrics.foreground_region(target)
        figures = image_metrics.image_figures(predicted, target, w1, w2)
        figures["DICE"] = image_metrics.dice(float32(outputs["mask"])[..., 0], target_mask)
        per_batch.append(figures)
    return mean_figures(per_batch)


def interpolation_loss(training) -> InterpolationLoss:
    """The loss of a preset's ``interpolation.training`` section."""
    return InterpolationLoss(
        mae_weight=training.mae_weight,
        mae_w1_weight=training.mae_w1_weight,
        mae_w2_weight=training.mae_w2_weight,
        dice_weight=training.dice_weight,
        low_weight=training.low_weight,
        lv_padding_px=training.lv_padding_px,
    )


class InterpolationTask(Task):
    """The temporal interpolator: the HDL network, the vanilla R2UNet or the GAN temporal baseline.

    The best network is the one of lowest validation loss.
    """

    name = "interpolator"
    section = "interpolation"
    make_samples = staticmethod(interpolation_dataset)
    metrics = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM", "DICE")

    def check(self, preset: Preset, data: TrainingData | None = None, replicas: int = 1) -> None:
        super().check(preset, data, replicas)
        if data is None:
            return
        largest = max(self.training(preset).k_values)
        frames = min(data.train.fewest_frames, data.val.fewest_frames)
        if largest + 1 >= frames:
            raise InputError(
                f"interpolation.training.k_values: K = {largest} frames dropped needs more than {largest + 1} "
                f"frames per cycle, but the data have {frames}; lower k_values in the config"
            )

    def network_config(self, preset: Preset, variant: str = DEFAULT_VARIANT) -> tuple[dict, str]:
        """The network's config and where it stands in the preset."""
        key = "vanilla_model" if variant == "vanilla" else "model"
        return dict(getattr(preset.interpolation, key)), f"interpolation.{key}"

    def trainer(self, preset: Preset, network: keras.Model, variant: str = DEFAULT_VARIANT, **options):
        training = self.training(preset)
        set_recompute(network, training.recompute_recurrent)
        loss = interpolation_loss(training)
        if variant == "gan":
            discriminator = build_from_config(preset.interpolation.discriminator, where="interpolation.discriminator")
            trainer = InterpolatorTrainer(
                network, loss=loss, discriminator=discriminator, adversarial_weight=training.adversarial_weight
            )
            trainer.compile(adam(training), adam(training))
        else:
            trainer = InterpolatorTrainer(network, loss=loss)
            trainer.compile(adam(training))
        return trainer

    def run_parts(self, preset: Preset, data: TrainingData, seed: int, variant: str, background: dict | None) -> dict:
        network_config, where = self.network_config(preset, variant)
        network = build_from_config(network_config, where=where)
        trainer = self.trainer(preset, network, variant)
        checkpointed = {"network": network, "optimizer": trainer.generator_optimizer}
        if trainer.discriminator is not None:
            checkpointed |= {
                "discriminator": trainer.discriminator,
                "discriminator_optimizer": trainer.discriminator_optimizer,
            }
        return {
            "trainer": trainer,
            "network": network,
            "network_config": network_config,
            "checkpointed": checkpointed,
            "validation_metrics": validation_metrics,
            "selection": "loss",
        }
