"""Pieces shared by the train-step models: weighted loss terms, their trackers, and a
distributed step for custom loops.

Loss terms are per-sample tensors (B,). A step averages the weighted total over the
**global** batch with ``tf.nn.compute_average_loss`` (sum over the replica's samples
divided by local batch × replicas): Keras sums gradients across replicas but does not
rescale hand-written means in a custom ``train_step``, so this keeps the gradients of
an N-replica step equal to those of one replica on the whole batch. Trackers average
the per-sample values, and Keras metrics sum their totals and counts across replicas,
so logged figures are global-batch means too.

Mixed precision: networks built under a ``mixed_*`` policy compute in float16 /
bfloat16; :func:`float32_outputs` casts their outputs before any loss, and
:func:`with_loss_scaling` wraps an optimizer in ``keras.optimizers.LossScaleOptimizer``
under ``mixed_float16``. Steps that apply gradients themselves must then differentiate
``optimizer.scale_loss(loss)`` (a no-op without a loss scale); the wrapper unscales the
gradients and skips steps whose gradients overflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import keras
import tensorflow as tf

TOTAL = "loss"


def weighted_suffix(name: str) -> str:
    return f"{name}_weighted"


def tracker_names(term_names: tuple[str, ...], total: str = TOTAL) -> list[str]:
    """Names logged for a set of terms: each raw, each weighted, and the total."""
    return [total, *term_names, *(weighted_suffix(name) for name in term_names)]


def make_trackers(names: list[str]) -> dict[str, keras.metrics.Mean]:
    """One mean tracker per logged figure."""
    return {name: keras.metrics.Mean(name=name) for name in names}


def combine_terms(
    terms: Mapping[str, tf.Tensor], weights: Mapping[str, float], total: str = TOTAL
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Weighted sum of per-sample terms (B,) and every figure to log (raw, weighted, total), all (B,)."""
    logged = {}
    weighted_sum = 0.0
    for name, values in terms.items():
        weighted = weights[name] * values
        logged[name] = values
        logged[weighted_suffix(name)] = weighted
        weighted_sum = weighted_sum + weighted
    logged[total] = weighted_sum
    return weighted_sum, logged


def update_trackers(trackers: Mapping[str, keras.metrics.Mean], logged: Mapping[str, tf.Tensor]) -> None:
    for name, values in logged.items():
        trackers[name].update_state(values)


def global_average(per_sample: tf.Tensor) -> tf.Tensor:
    """The replica's share of the global-batch mean: Σ per_sample / (local batch × replicas)."""
    return tf.nn.compute_average_loss(per_sample)


def distributed_step(
    trainer: keras.Model, strategy: tf.distribute.Strategy, training: bool = True
) -> Callable[[object], dict[str, tf.Tensor]]:
    """A compiled function running ``trainer.train_step`` (or ``test_step``) on every replica of ``strategy``.

    Feed it batches of ``strategy.experimental_distribute_dataset(dataset)``. It returns the
    trainer's metrics read in cross-replica context, where Keras sums their totals and
    counts over the replicas (a read inside a replica would give that replica's share only).
    This is the custom-loop alternative to ``fit`` for multi-replica GAN training, and the
    loop `keras-hdl train` runs under every strategy (``fit`` fails under
    MultiWorkerMirroredStrategy in Keras 3.15).
    """
    step = trainer.train_step if training else trainer.test_step

    @tf.function(autograph=False)
    def run(distributed_batch):
        strategy.run(step, args=(distributed_batch,))
        return {metric.name: metric.result() for metric in trainer.metrics}

    return run


def with_loss_scaling(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """``optimizer`` in a dynamic ``LossScaleOptimizer`` under the ``mixed_float16`` policy, else itself."""
    needs_scaling = keras.mixed_precision.global_policy().name == "mixed_float16"
    if needs_scaling and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def float32_outputs(outputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Network outputs cast to float32 (losses and metrics are computed in float32 under mixed precision)."""
    return {name: tf.cast(value, tf.float32) if value.dtype.is_floating else value for name, value in outputs.items()}
