"""Train-step model of phase synthesis (DESIGN §2.2): pix2pix with least-squares GAN losses.

Generator loss per sample: w_adv·LSGAN_G + λ_fg·L1(foreground) + λ_myo·L1(myocardium)
+ λ_v·L1(velocity), λ = 100 (the L1 terms are MAEs inside their region: foreground =
frame t's magnitude > −0.95, myocardium = the target mask; the velocity term is
:class:`~keras_hdl.losses.VelocityCurveL1` on the frame's myocardial mean radial,
circumferential and longitudinal velocity, beyond the paper). Discriminator loss: ½ LSGAN_D
on real vs synthetic phase given the magnitude frames. One tape per network, two
optimizers (Adam 2e-4, β1 = 0.5). Every term is logged raw and weighted.

With the HDL generator (``composite=True``) the synthetic phase is the
foreground-background composite, used by the discriminator and the losses alike; the
background seeds come from the trainer's ``seed``, the step and each sample's position
in the global batch, so N replicas draw the same noise as one replica. The real phase
the discriminator sees gets the same composite background (same noise), so real and
synthetic differ only in the foreground: augmentation smooths the real background (a
bilinear rotation of noise) and fresh noise is not smoothed, which the discriminator
could otherwise learn to tell apart.

Batches are ``(inputs, targets)`` as made by :func:`keras_hdl.training.data.phase_dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.losses import LeastSquaresGANLoss, VelocityCurveL1, WeightedMAE, foreground_region
from keras_hdl.metrics import FOREGROUND_THRESHOLD
from keras_hdl.training.steps import (
    combine_terms,
    float32_outputs,
    global_average,
    make_trackers,
    tracker_names,
    update_trackers,
    with_loss_scaling,
)

PIX2PIX_TERMS = ("adversarial", "l1_foreground", "l1_myocardium", "velocity")
GENERATOR_LOSS = "generator_loss"
DISCRIMINATOR_LOSS = "discriminator_loss"


class Pix2PixLoss:
    """The pix2pix loss terms of one batch, per sample, and their weights.

    Args:
        adversarial_weight: weight of the generator's LSGAN term (1).
        foreground_l1_weight: λ of the L1 on foreground pixels (paper: 100).
        myocardium_l1_weight: λ of the L1 on the myocardium (100).
        velocity_l1_weight: λ of the L1 on the myocardial mean velocities (0: off).
        foreground_threshold: normalised magnitude above which a pixel is foreground.
    """

    def __init__(
        self,
        adversarial_weight: float = 1.0,
        foreground_l1_weight: float = 100.0,
        myocardium_l1_weight: float = 100.0,
        velocity_l1_weight: float = 0.0,
        foreground_threshold: float = FOREGROUND_THRESHOLD,
    ):
        self.weights = {
            "adversarial": adversarial_weight,
            "l1_foreground": foreground_l1_weight,
            "l1_myocardium": myocardium_l1_weight,
            "velocity": velocity_l1_weight,
        }
        for name, weight in self.weights.items():
            if weight < 0:
                raise InputError(f"{name} weight: loss weights must be >= 0, got {weight}")
        self.region_l1 = WeightedMAE(low_weight=0.0)
        self.gan = LeastSquaresGANLoss()
        self.velocity_l1 = VelocityCurveL1()
        self.foreground_threshold = foreground_threshold

    def generator_terms(
        self,
        inputs: Mapping[str, tf.Tensor],
        targets: Mapping[str, tf.Tensor],
        synthetic_phase: tf.Tensor,
        fake_scores: tf.Tensor,
        centre_magnitude: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        """Raw generator terms (B,): phases (B,H,W,3), target mask (B,H,W,1), patch scores (B,h,w,1),
        frame t's magnitude (B,H,W,1); ``targets`` also hold venc (B,3) and pixel_spacing (B,2)."""
        foreground = foreground_region(centre_magnitude, self.foreground_threshold)
        real = targets["phase"]
        return {
            "adversarial": self.gan.generator(fake_scores),
            "l1_foreground": self.region_l1(real, synthetic_phase, foreground),
            "l1_myocardium": self.region_l1(real, synthetic_phase, targets["mask"]),
            "velocity": self.velocity_l1(
                real, synthetic_phase, targets["mask"], targets["venc"], targets["pixel_spacing"]
            ),
        }


class Pix2PixTrainer(keras.Model):
    """Wraps a phase generator and a PatchGAN discriminator with the custom train and test steps.

    Args:
        generator: :class:`~keras_hdl.models.PhaseGenerator` (with or without the composite).
        discriminator: :class:`~keras_hdl.models.PatchDiscriminator` with 3 image and 3 context channels.
        loss: the loss terms and weights (default: the paper's).
        seed: base seed of the composite's background noise during training.

    ``compile(generator_optimizer, discriminator_optimizer)``. Save the generator, not the trainer.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: Pix2PixLoss | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (discriminator.image_channels, discriminator.context_channels) != (3, 3):
            raise InputError(
                "the phase discriminator judges 3 phase channels given 3 magnitude frames; got "
                f"image_channels={discriminator.image_channels}, context_channels={discriminator.context_channels}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.loss_terms = loss or Pix2PixLoss()
        self.seed = int(seed)
        self.trackers = make_trackers([*tracker_names(PIX2PIX_TERMS, total=GENERATOR_LOSS), DISCRIMINATOR_LOSS])
        self.generator_optimizer = None
        self.discriminator_optimizer = None

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Two optimizers (paper: Adam lr 2e-4, β1 0.5), built now in the caller's strategy scope.

        Under the ``mixed_float16`` policy both are wrapped in a ``LossScaleOptimizer``.
        """
        super().compile(**kwargs)
        generator_optimizer = with_loss_scaling(generator_optimizer)
        discriminator_optimizer = with_loss_scaling(discriminator_optimizer)
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _generator_inputs(self, inputs, step):
        """The generator's inputs; with the composite, seeds (B,2) that depend on the sample's global position."""
        network_inputs = {name: inputs[name] for name in ("magnitudes", "position") if name in inputs}
        if not self.generator.composite:
            return network_inputs
        context = tf.distribute.get_replica_context()  # None when Keras traces in cross-replica context
        replica, replicas = (context.replica_id_in_sync_group, context.num_replicas_in_sync) if context else (0, 1)
        local_batch = tf.shape(inputs["magnitudes"])[0]
        first = local_batch * replica
        step_seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        global_seeds = tf.random.stateless_uniform(
            (local_batch * replicas, 2), seed=step_seed, dtype=tf.int32, minval=None, maxval=None
        )
        return {**network_inputs, "seed": global_seeds[first : first + local_batch]}

    def call(self, inputs, training=False):
        return self.generator(self._generator_inputs(inputs, 0), training=training)

    def _forward_losses(self, inputs, targets, step, training):
        """Forward pass and both losses: (generator total (B,), discriminator loss (B,), logged figures)."""
        synthetic = float32_outputs(self.generator(self._generator_inputs(inputs, step), training=training))["phase"]
        centre = self.generator.centre
        centre_magnitude = inputs["magnitudes"][..., centre : centre + 1]
        real = targets["phase"]
        if self.generator.composite:  # the synthetic phase's background noise on the real phase (module docstring)
            real = tf.where(centre_magnitude > self.generator.foreground_threshold, real, synthetic)
        context = inputs["magnitudes"][..., centre - 1 : centre + 2]  # frames t−1, t, t+1
        fake_scores = float32_outputs(self.discriminator({"image": synthetic, "context": context}, training=training))
        real_scores = float32_outputs(self.discriminator({"image": real, "context": context}, training=training))
        terms = self.loss_terms.generator_terms(inputs, targets, synthetic, fake_scores["patches"], centre_magnitude)
        generator_total, logged = combine_terms(terms, self.loss_terms.weights, total=GENERATOR_LOSS)
        discriminator_loss = self.loss_terms.gan.discriminator(real_scores["patches"], fake_scores["patches"])
        logged[DISCRIMINATOR_LOSS] = discriminator_loss
        return generator_total, discriminator_loss, logged

    def train_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        step = self.generator_optimizer.iterations
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generator_total, discriminator_loss, logged = self._forward_losses(inputs, targets, step, training=True)
            generator_average = self.generator_optimizer.scale_loss(global_average(generator_total))
            discriminator_average = self.discriminator_optimizer.scale_loss(global_average(discriminator_loss))
        for network, optimizer, tape, loss in (
            (self.generator, self.generator_optimizer, generator_tape, generator_average),
            (self.discriminator, self.discriminator_optimizer, discriminator_tape, discriminator_average),
        ):
            variables = network.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        update_trackers(self.trackers, logged)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, _, logged = self._forward_losses(inputs, targets, self.generator_optimizer.iterations, training=False)
        update_trackers(self.trackers, logged)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
