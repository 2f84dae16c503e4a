"""The circles experiment's networks and train step (the paper's appendix; :mod:`keras_hdl.evaluation.circles`).

The generator is a small R2UNet (:mod:`keras_hdl.models.blocks`, instance norm, tanh output). The UNet
trains it with L1 only; the GAN (pix2pix) with LSGAN + λ·L1 against a
:class:`~keras_hdl.models.PatchDiscriminator` that sees (output, input). Both are an
:class:`~keras_hdl.training.adversarial.AdversarialTrainer`, like every other GAN of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from keras_hdl.losses import LeastSquaresGANLoss, mean_absolute_error
from keras_hdl.models.blocks import SpatialSizeCheck, image_input, r2unet_features
from keras_hdl.models.phase import PatchDiscriminator
from keras_hdl.training.adversarial import AdversarialTrainer
from keras_hdl.training.optimizers import FusedAdam

if TYPE_CHECKING:  # the experiment's data types; training does not import the evaluation at run time
    from keras_hdl.evaluation.circles_data import CirclePairs, CirclesSettings

NORM = "instance"  # of generator and discriminator: no batch statistics to settle in a few hundred steps
LOSSES = ("l1", "adversarial", "discriminator")


def build_generator(settings: CirclesSettings, name: str) -> keras.Model:
    """The R2UNet generator shared by UNet and GAN: image (B, H, W, 1) → image (B, H, W, 1), tanh."""
    image = image_input(1, "image")
    checked = SpatialSizeCheck(2 ** (len(settings.widths) - 1), name="size_check")(image)
    features = r2unet_features(checked, settings.widths, settings.recurrence, NORM, name="r2unet")
    output = keras.layers.Conv2D(1, 1, activation="tanh", name="output")(features)
    return keras.Model(image, output, name=name)


class PairTrainer(AdversarialTrainer):
    """The generator (and, for the GAN, a PatchGAN discriminator), their Adams and one traced train step.

    UNet (``adversarial=False``): generator loss L1. GAN: generator loss LSGAN_G + λ·L1 and
    discriminator loss ½ LSGAN_D on (image, input) pairs; one tape per network. :meth:`reset`
    puts every weight and optimizer slot back to its initial value, so the one trace (seconds
    on a CPU) serves both tasks.
    """

    def __init__(self, settings: CirclesSettings, adversarial: bool, name: str):
        generator = build_generator(settings, name=f"{name}_generator")
        discriminator = None
        if adversarial:
            discriminator = PatchDiscriminator(1, 1, base_width=settings.discriminator_width, norm=NORM)
            discriminator.build({"image": (None, None, None, 1), "context": (None, None, None, 1)})
        super().__init__(generator, discriminator, list(LOSSES if adversarial else LOSSES[:1]), name=f"{name}_pairs")
        self.settings = settings
        self.gan = LeastSquaresGANLoss()

        def optimizer():
            return FusedAdam(settings.learning_rate, beta_1=settings.beta_1)

        # built here, outside the trace (tracing the build is slow)
        self.compile(optimizer(), optimizer() if adversarial else None)
        networks = [network for network in (generator, discriminator) if network is not None]
        optimizers = [opt for opt in (self.generator_optimizer, self.discriminator_optimizer) if opt is not None]
        state = [v for network in networks for v in network.variables]
        state += [v for opt in optimizers for v in opt.variables]
        initial = [v.numpy() for v in state]

        def reset() -> None:  # a closure, so that Keras does not track the variables a second time
            for variable, value in zip(state, initial, strict=True):
                variable.assign(value)

        self._reset = reset
        self._step = tf.function(self.train_step)

    def reset(self) -> None:
        """Every network weight and optimizer variable back to its value at construction."""
        self._reset()

    def forward_losses(self, inputs, targets, training):
        """(input, target) batches (B, H, W, 1) → (generator loss (B,), discriminator loss (B,) or None, losses)."""
        output = self.generator(inputs, training=training)
        l1 = mean_absolute_error(targets, output)
        if self.discriminator is None:
            return l1, None, {"l1": l1}
        fake = self.discriminator({"image": output, "context": inputs}, training=training)["patches"]
        real = self.discriminator({"image": targets, "context": inputs}, training=training)["patches"]
        adversarial = self.gan.generator(fake)
        discriminator = self.gan.discriminator(real, fake)
        losses = {"l1": l1, "adversarial": adversarial, "discriminator": discriminator}
        return adversarial + self.settings.l1_weight * l1, discriminator, losses

    def train_on_pairs(self, pairs: CirclePairs, batches: np.ndarray) -> dict[str, float]:
        """Reset, then one step per row of ``batches`` (steps, batch_size) of training indices.

        Returns each loss (its batch mean) averaged over the last 10 % of the steps.
        """
        self.reset()
        history = []
        for indices in batches:
            self.reset_metrics()  # the step then returns this batch's means
            losses = self._step((pairs.inputs[indices, ..., None], pairs.targets[indices, ..., None]))
            history.append({name: float(value) for name, value in losses.items()})
        tail = history[-max(1, len(history) // 10) :]
        return {name: float(np.mean([losses[name] for losses in tail])) for name in tail[0]}

    def generate(self, images: np.ndarray) -> np.ndarray:
        """Generator outputs (N, H, W) of inputs (N, H, W), inference mode."""
        return self.generator(tf.constant(images[..., None]), training=False).numpy()[..., 0]
