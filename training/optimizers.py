"""The optimizer of every training here: Keras' Adam, with each variable's update as one fused op.

Keras 3's Adam updates a variable with about 40 graph ops (casts, two powers, the moment updates, the
step) on the TensorFlow back end: the optimizer made 35 % of the tiny phase step's 11 368 ops and half
of the interpolator's 14 630, and tracing an op costs Python time (about 3 s per 100 variables on a
2-core Zen 1 before a training's first step) while running each costs a kernel launch per step.
:class:`FusedAdam` runs TensorFlow's ``ResourceApplyAdam`` instead: the same update (same formula, same
order of operations: ``m += (g − m)(1 − β1)``, ``v += (g² − v)(1 − β2)``,
``θ −= α m / (√v + ε)`` with ``α = lr √(1 − β2ᵗ) / (1 − β1ᵗ)``), the same slot variables (checkpoints
from either class restore into the other), one kernel per variable. Every other case (AMSGrad, other
back ends, non-float32 variables) is Keras' own code.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class _StepScalars:
    """The scalars every fused update of one step shares (β powers, learning rate, β, ε), float32."""

    def __init__(self, optimizer: keras.optimizers.Adam, learning_rate):
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        self.beta1 = tf.constant(optimizer.beta_1, tf.float32)
        self.beta2 = tf.constant(optimizer.beta_2, tf.float32)
        self.beta1_power = tf.pow(self.beta1, step)
        self.beta2_power = tf.pow(self.beta2, step)
        self.lr = tf.cast(learning_rate, tf.float32)
        self.epsilon = tf.constant(optimizer.epsilon, tf.float32)


@keras.saving.register_keras_serializable(package="keras_hdl")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose update of a float32 variable is one ``ResourceApplyAdam`` op on the
    TensorFlow back end (module docstring); the step's scalars are computed once per :meth:`apply`, not
    once per variable (a fused update is then 5 graph ops: the op, its three handles, an identity)."""

    _step_scalars: _StepScalars | None = None  # a class default: Keras and TensorFlow do not track it

    def apply(self, grads, trainable_variables=None):
        # The iteration count moves only after every variable's update: one set of scalars per call.
        # Under MirroredStrategy every replica's thread resets it before the cross-replica update runs.
        self._step_scalars = None
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._step_scalars = None

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow" or variable.dtype != tf.float32:
            return super().update_step(gradient, variable, learning_rate)
        if self._step_scalars is None:
            self._step_scalars = _StepScalars(self, learning_rate)
        scalars = self._step_scalars
        index = self._get_variable_index(variable)
        # .handle of a mirrored variable inside the strategy's update call is this device's copy
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=scalars.beta1_power,
            beta2_power=scalars.beta2_power,
            lr=scalars.lr,
            beta1=scalars.beta1,
            beta2=scalars.beta2,
            epsilon=scalars.epsilon,
            grad=tf.cast(gradient, tf.float32),
        )
