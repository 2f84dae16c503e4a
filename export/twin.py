"""The whole twin pipeline on the networks' crops as one TensorFlow graph (the ``twin`` servable).

Inputs (B = slices, dynamic; N = kept frames, dynamic; C = the models' crop size)::

    magnitudes (B, N, C, C) float32  kept frames 0, K+1, 2(K+1), … normalised to [−1, 1], LV crops
    masks      (B, N, C, C) float32  their myocardium masks, {0, 1}
    k          ()           int32    frames dropped between kept frames (0 … 6)
    frames     ()           int32    T, frames per cycle: N = ceil(T / (K+1))
    seed       ()           int32    background seed: frame t of slice b gets (seed, b·T + t)

Outputs::

    magnitude  (B, T, C, C)    float32 normalised magnitude of every frame (kept frames: the input)
    mask       (B, T, C, C)    float32 myocardium probability (kept frames: the input masks)
    phase      (B, T, C, C, 3) float32 normalised x, y, z phase in [−1, 1]

It computes exactly :func:`keras_hdl.synthesis.pipeline.synthesize_crops` (same gaps,
conditions, neighbouring frames, cycle positions and seeds); the caller crops, normalises, resamples and pastes
back as :func:`keras_hdl.synthesis.pipeline.synthesize_twin` does. Only standard
TensorFlow ops: the frame bookkeeping is index arithmetic and gathers.
"""

from __future__ import annotations

import tensorflow as tf

from keras_hdl.interpolation.plan import MAX_K
from keras_hdl.phase_inputs import neighbour_offsets


def twin_signature(crop_size: int) -> dict[str, tf.TensorSpec]:
    """The ``twin`` servable's named inputs."""
    image = tf.TensorSpec([None, None, crop_size, crop_size], tf.float32)
    return {
        "magnitudes": tf.TensorSpec(image.shape, tf.float32, name="magnitudes"),
        "masks": tf.TensorSpec(image.shape, tf.float32, name="masks"),
        "k": tf.TensorSpec([], tf.int32, name="k"),
        "frames": tf.TensorSpec([], tf.int32, name="frames"),
        "seed": tf.TensorSpec([], tf.int32, name="seed"),
    }


def _checks(num_kept: tf.Tensor, k: tf.Tensor, frames: tf.Tensor) -> list:
    period = k + 1
    return [
        tf.debugging.assert_greater_equal(k, 0, message="k: frames dropped must be >= 0"),
        tf.debugging.assert_less_equal(k, MAX_K, message=f"k: at most {MAX_K} frames dropped"),
        tf.debugging.assert_greater_equal(frames, 2 * period, message="frames: K keeps fewer than two frames"),
        tf.debugging.assert_equal(
            num_kept, (frames + k) // period, message="magnitudes: need ceil(frames / (k + 1)) kept frames"
        ),
    ]


def make_twin_function(interpolator, phase, crop_size: int):
    """A function of the :func:`twin_signature` inputs that runs both Keras networks (see module docstring).

    ``phase`` is a :class:`~keras_hdl.models.PhaseGenerator`: its ``composite``, ``neighbours`` and
    ``cycle_position`` say which inputs it takes.
    """

    def twin(inputs: dict) -> dict:
        magnitudes, masks = inputs["magnitudes"], inputs["masks"]
        k, frames, seed = inputs["k"], inputs["frames"], inputs["seed"]
        batch, num_kept = tf.shape(magnitudes)[0], tf.shape(magnitudes)[1]
        with tf.control_dependencies(_checks(num_kept, k, frames)):
            t = tf.range(frames)
        period = k + 1
        kept = tf.equal(t % period, 0)
        targets = tf.boolean_mask(t, tf.logical_not(kept))  # (M,) dropped frames, ascending
        start_index = targets // period
        end_index = (start_index + 1) % num_kept  # the last gap ends at frame T ≡ 0
        start_frame = start_index * period
        end_frame = tf.minimum(start_frame + period, frames)
        positions = tf.cast(tf.stack([start_frame, targets, end_frame], axis=-1), tf.float32) / tf.cast(
            frames, tf.float32
        )
        num_targets = tf.size(targets)

        def pairs(images):  # (B, N, C, C) → (B·M + 1, C, C, 2) [start, end], plus one padding pair
            both = tf.stack([tf.gather(images, start_index, axis=1), tf.gather(images, end_index, axis=1)], axis=-1)
            both = tf.reshape(both, [-1, crop_size, crop_size, 2])
            return tf.concat([both, tf.zeros([1, crop_size, crop_size, 2])], axis=0)

        # The padding sample keeps the batch non-empty when K = 0 (TF's convolutions reject an empty
        # batch); every sample is computed on its own, so it changes no other output.
        condition = tf.concat([tf.tile(positions, [batch, 1]), tf.constant([[0.0, 0.5, 1.0]])], axis=0)
        inputs = {"magnitudes": pairs(magnitudes), "masks": pairs(masks), "condition": condition}
        predicted = interpolator(inputs, training=False)
        predicted = {key: value[:-1] for key, value in predicted.items()}
        shape = tf.stack([batch, num_targets, crop_size, crop_size])
        # Frame t is kept frame t / (K+1), or the (t − t // (K+1) − 1)-th dropped frame.
        source = tf.where(kept, t // period, num_kept + t - t // period - 1)
        magnitude = tf.gather(tf.concat([magnitudes, tf.reshape(predicted["magnitude"], shape)], 1), source, axis=1)
        mask = tf.gather(tf.concat([masks, tf.reshape(predicted["mask"], shape)], 1), source, axis=1)

        offsets = neighbour_offsets(phase.neighbours).tolist()
        neighbours = tf.stack([tf.gather(magnitude, (t + offset) % frames, axis=1) for offset in offsets], axis=-1)
        phase_inputs = {"magnitudes": tf.reshape(neighbours, [-1, crop_size, crop_size, len(offsets)])}
        if phase.cycle_position:
            position = tf.cast(t, tf.float32) / tf.cast(frames, tf.float32)
            phase_inputs["position"] = tf.reshape(tf.tile(position, [batch]), [-1, 1])
        if phase.composite:
            index = tf.range(batch * frames)
            phase_inputs["seed"] = tf.stack([tf.fill(tf.shape(index), seed), index], axis=-1)
        phases = phase(phase_inputs, training=False)["phase"]
        return {
            "magnitude": magnitude,
            "mask": mask,
            "phase": tf.reshape(phases, [batch, frames, crop_size, crop_size, 3]),
        }

    return twin
