"""The one train-step model every network here trains with: a generator and, for a GAN, a discriminator.

A subclass says what a batch's losses are (:meth:`AdversarialTrainer.forward_losses`); this base owns
the rest, the same for the temporal interpolator (with or without its PatchGAN baseline), pix2pix and
the circles experiment:

- ``compile(generator_optimizer, discriminator_optimizer=None)``: the discriminator's optimizer exactly
  when there is a discriminator; both wrapped in a ``LossScaleOptimizer`` under ``mixed_float16`` and
  built at once, in the caller's strategy scope (not lazily inside a replica).
- ``train_step``: one forward pass under one tape per network; each network's per-sample loss (B,)
  is averaged over the **global** batch (:func:`~keras_hdl.training.steps.global_average`) and scaled
  for mixed precision, then the generator's gradients are applied, then the discriminator's.
- ``test_step``: the same losses in inference mode, nothing applied.
- the logged figures are mean trackers created in ``__init__`` (:attr:`trackers`) and returned by
  ``metrics``; a step returns their running means.

Save the generator (and discriminator), not the trainer.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.training.steps import global_average, make_trackers, update_trackers, with_loss_scaling

DISCRIMINATOR_LOSS = "discriminator_loss"
"""The metric name under which every adversarial task logs its discriminator's loss."""


class AdversarialTrainer(keras.Model):
    """Base of the train-step models (module docstring).

    Args:
        generator: the network being trained (its weights are what a run saves).
        discriminator: optional PatchGAN judging the generator's output.
        logged: names of the figures :meth:`forward_losses` logs (one tracker each).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model | None, logged: list[str], **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.trackers = make_trackers(logged)
        self.generator_optimizer = None
        self.discriminator_optimizer = None

    def compile(self, generator_optimizer, discriminator_optimizer=None, **kwargs):
        """The generator's optimizer (also Keras' ``optimizer``) and, with a discriminator, its own."""
        if (self.discriminator is None) != (discriminator_optimizer is None):
            raise InputError("give a discriminator_optimizer exactly when the trainer has a discriminator")
        generator_optimizer = with_loss_scaling(generator_optimizer)
        super().compile(optimizer=generator_optimizer, **kwargs)
        generator_optimizer.build(self.generator.trainable_variables)
        if discriminator_optimizer is not None:
            discriminator_optimizer = with_loss_scaling(discriminator_optimizer)
            discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def forward_losses(
        self, inputs: Mapping, targets: Mapping, training: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, dict[str, tf.Tensor]]:
        """(generator loss (B,), discriminator loss (B,) or None without a discriminator, figures to log)."""
        raise NotImplementedError

    def train_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generator_loss, discriminator_loss, logged = self.forward_losses(inputs, targets, training=True)
            updates = [(self.generator, self.generator_optimizer, generator_tape, generator_loss)]
            if discriminator_loss is not None:
                discriminator = (self.discriminator, self.discriminator_optimizer, discriminator_tape)
                updates.append((*discriminator, discriminator_loss))
            scaled = [optimizer.scale_loss(global_average(loss)) for _, optimizer, _, loss in updates]
        for (network, optimizer, tape, _), loss in zip(updates, scaled, strict=True):
            variables = network.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return self._logged(logged)

    def test_step(self, data):
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, _, logged = self.forward_losses(inputs, targets, training=False)
        return self._logged(logged)

    def _logged(self, logged: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        update_trackers(self.trackers, logged)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
