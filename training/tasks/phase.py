"""The phase task: pix2pix's losses, train step, validation (pixel and velocity figures) and run.

Train-step model of phase synthesis (docs/design.md §2.2): pix2pix with least-squares
GAN losses.

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

from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from keras_hdl import metrics as image_metrics
from keras_hdl.assessment import assess_velocity, twin_velocity_figures
from keras_hdl.config import Preset, build_from_config
from keras_hdl.errors import InputError
from keras_hdl.losses import LeastSquaresGANLoss, VelocityCurveL1, WeightedMAE, foreground_region
from keras_hdl.metrics import FOREGROUND_THRESHOLD
from keras_hdl.models.blocks import set_recompute
from keras_hdl.predictors import KerasPredictor
from keras_hdl.series import REFERENCE_FRAME_INTERVAL_MS, REFERENCE_VENC_CM_S
from keras_hdl.training.adversarial import DISCRIMINATOR_LOSS, AdversarialTrainer
from keras_hdl.training.data import SliceCines, phase_dataset
from keras_hdl.training.sources import TrainingData
from keras_hdl.training.steps import combine_terms, float32_outputs, tracker_names
from keras_hdl.training.tasks.base import (
    DEFAULT_VARIANT,
    VALIDATION_SEED,
    Task,
    adam,
    float32,
    mean_figures,
)

PIX2PIX_TERMS = ("adversarial", "l1_foreground", "l1_myocardium", "velocity")
GENERATOR_LOSS = "generator_loss"


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


class Pix2PixTrainer(AdversarialTrainer):
    """Wraps a phase generator and a PatchGAN discriminator with the custom train and test steps.

    Args:
        generator: :class:`~keras_hdl.models.PhaseGenerator` (with or without the composite).
        discriminator: :class:`~keras_hdl.models.PatchDiscriminator` with 3 image and 3 context channels.
        loss: the loss terms and weights (default: the paper's).
        seed: base seed of the composite's background noise during training.

    ``compile(generator_optimizer, discriminator_optimizer)`` (paper: Adam lr 2e-4, β1 0.5). Save the
    generator, not the trainer.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: Pix2PixLoss | None = None,
        seed: int = 0,
        **kwargs,
    ):
        if (discriminator.image_channels, discriminator.context_channels) != (3, 3):
            raise InputError(
                "the phase discriminator judges 3 phase channels given 3 magnitude frames; got "
                f"image_channels={discriminator.image_channels}, context_channels={discriminator.context_channels}"
            )
        logged = [*tracker_names(PIX2PIX_TERMS, total=GENERATOR_LOSS), DISCRIMINATOR_LOSS]
        super().__init__(generator, discriminator, logged, **kwargs)
        self.loss_terms = loss or Pix2PixLoss()
        self.seed = int(seed)

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Both optimizers are required: pix2pix always has its discriminator."""
        super().compile(generator_optimizer, discriminator_optimizer, **kwargs)

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

    def forward_losses(self, inputs, targets, training):
        """Forward pass and both losses: (generator total (B,), discriminator loss (B,), logged figures).

        The composite's background seeds follow the generator optimizer's step counter (0 before ``compile``).
        """
        step = 0 if self.generator_optimizer is None else self.generator_optimizer.iterations
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


def validation_metrics(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
    """Validation figures of the phase generator over its 3 directions: ω1 = myocardium, ω2 = foreground."""
    from keras_hdl.models import background_seeds

    per_batch = []
    for step, (inputs, targets) in enumerate(dataset):
        batch = {name: inputs[name] for name in network.input if name in inputs}
        if "seed" in network.input:
            batch["seed"] = tf.constant(background_seeds(int(inputs["magnitudes"].shape[0]), VALIDATION_SEED + step))
        predicted = image_metrics.per_direction(float32(network(batch, training=False)["phase"]))
        target = image_metrics.per_direction(targets["phase"])
        w1 = image_metrics.per_direction(np.repeat(targets["mask"].numpy() > 0.5, 3, axis=-1))
        centre = inputs["magnitudes"].numpy()[..., network.centre : network.centre + 1]
        w2 = image_metrics.per_direction(np.repeat(image_metrics.foreground_region(centre), 3, -1))
        per_batch.append(image_metrics.image_figures(predicted, target, w1, w2))
    return mean_figures(per_batch)


def velocity_figures(
    network: keras.Model, cines: SliceCines, predictor: KerasPredictor | None = None
) -> dict[str, float]:
    """The K = 0 twin's velocity figures on whole validation cines (what a user of the network gets).

    Every frame's phase is synthesised from the real magnitude at inference, as synthesis does, one
    cycle length at a time
    (:meth:`~keras_hdl.synthesis.networks.PhaseSynthesizer.synthesize_cycles`); the global radial,
    circumferential and longitudinal curves of synthetic and real phase (true masks, each cine's
    pixel spacing, mm/s) are compared by :func:`keras_hdl.assessment.twin_velocity_figures`.
    ``predictor``: ``network``'s traced predictor, if one is kept (it reads the weights as they are).
    """
    from keras_hdl.models import background_seeds
    from keras_hdl.synthesis.networks import PhaseSynthesizer

    predictor = KerasPredictor(network) if predictor is None else predictor
    synthesizer = PhaseSynthesizer.for_network(predictor, network)
    curves, reference = [], []
    for group, frames in enumerate(np.unique(cines.frames)):  # cycles of one length at a time (cyclic inputs)
        members = np.flatnonzero(cines.frames == frames)
        seeds = background_seeds(members.size * int(frames), VALIDATION_SEED + group)
        synthetic = synthesizer.synthesize_cycles(cines.magnitude[members, :frames], seeds)
        group_curves, group_reference = [], []
        for index, cine in enumerate(members):
            venc = cines.venc[cine][None, :, None, None]
            masks = cines.mask[cine, :frames, None] > 0.5  # (T, 1, C, C)
            spacing = tuple(float(v) for v in cines.pixel_spacing[cine])
            for phase, out in ((synthetic[index], group_curves), (cines.phase[cine, :frames], group_reference)):
                velocity = np.moveaxis(phase, -1, 1)[:, None] * venc  # (T, 1, 3, C, C) cm/s
                out.append(assess_velocity(velocity, masks, pixel_spacing=spacing).global_curves)
        curves.append(np.concatenate(group_curves))
        reference.append(np.concatenate(group_reference))
    return twin_velocity_figures(curves, reference)


def epoch_figures(cines: SliceCines) -> Callable[[keras.Model, tf.data.Dataset], dict[str, float]]:
    """A run's validation figures, every epoch: :func:`validation_metrics` and :func:`velocity_figures` on
    ``cines``, tracing the evaluated network's predictor once for the whole run, not once per epoch."""
    traced: list[tuple[keras.Model, KerasPredictor]] = []  # the network evaluated and its predictor

    def figures(network: keras.Model, dataset: tf.data.Dataset) -> dict[str, float]:
        if not traced or traced[0][0] is not network:
            traced[:] = [(network, KerasPredictor(network))]
        return validation_metrics(network, dataset) | velocity_figures(network, cines, traced[0][1])

    return figures


class PhaseTask(Task):
    """Phase synthesis: the HDL pix2pix with the foreground-background composite, or vanilla pix2pix.

    Needs the background Gaussian fitted on the training data (``background``). The best network is the
    one whose K = 0 twin has the best velocity curves (``selection: velocity``), or the lowest foreground
    L1 (the adversarial terms are not comparable between epochs).
    """

    name = "phase"
    section = "phase"
    make_samples = staticmethod(phase_dataset)
    loss_name = GENERATOR_LOSS
    metrics = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM")

    def network_config(
        self, preset: Preset, variant: str = DEFAULT_VARIANT, background: dict | None = None
    ) -> tuple[dict, str]:
        """The generator's config (with the fitted background noise, for the composite) and where it stands."""
        key = "vanilla_model" if variant == "vanilla" else "model"
        config = dict(getattr(preset.phase, key)) | {
            "velocity_reference_cm_s": list(REFERENCE_VENC_CM_S),
            "frame_interval_reference_ms": REFERENCE_FRAME_INTERVAL_MS,
        }
        if background is not None and config.get("composite", True):
            config |= {"background_mean": background["mean"], "background_std": background["std"]}
        return config, f"phase.{key}"

    def trainer(self, preset: Preset, network: keras.Model, variant: str = DEFAULT_VARIANT, seed: int = 0, **options):
        training = self.training(preset)
        set_recompute(network, training.recompute_recurrent)
        discriminator = build_from_config(preset.phase.discriminator, where="phase.discriminator")
        loss = Pix2PixLoss(
            adversarial_weight=training.adversarial_weight,
            foreground_l1_weight=training.foreground_l1_weight,
            myocardium_l1_weight=training.myocardium_l1_weight,
            velocity_l1_weight=training.velocity_l1_weight,
            # vanilla pix2pix: the generator makes every pixel, so its L1 covers the whole image
            **({"foreground_threshold": float("-inf")} if variant == "vanilla" else {}),
        )
        trainer = Pix2PixTrainer(network, discriminator, loss=loss, seed=seed)
        trainer.compile(adam(training), adam(training))
        return trainer

    def run_parts(self, preset: Preset, data: TrainingData, seed: int, variant: str, background: dict | None) -> dict:
        if background is None:
            raise InputError("the phase task needs the background noise fitted on the training data")
        config, where = self.network_config(preset, variant, background)
        generator = build_from_config(config, where=where)
        trainer = self.trainer(preset, generator, variant, seed=seed)
        selection = self.training(preset).selection
        return {
            "trainer": trainer,
            "network": generator,
            "network_config": config,
            "checkpointed": {
                "network": generator,
                "discriminator": trainer.discriminator,
                "optimizer": trainer.generator_optimizer,
                "discriminator_optimizer": trainer.discriminator_optimizer,
            },
            "validation_metrics": epoch_figures(data.val),
            # the twin's velocity figures, or the reconstruction objective (the adversarial terms are not comparable)
            "selection": "velocity_score" if selection == "velocity" else "l1_foreground",
            "sample_options": {"neighbours": generator.neighbours, "cycle_position": generator.cycle_position},
        }
