"""Phase synthesis networks (docs/design.md §2.2): the R2UNet generator, the foreground-background
composite, and the PatchGAN discriminator.

Generator inputs (channels last, normalised magnitude in [−1, 1])::

    magnitudes (B, H, W, n)  the n = 3 (paper) or 5 cyclic neighbours of frame t: [M_t−1, M_t, M_t+1]
                             or [M_t−2, …, M_t+2] (:func:`neighbour_offsets`)
    position   (B, 1)        t / T, the frame's position in the cycle (only with ``cycle_position``)
    seed       (B, 2) int32  stateless RNG seed of each sample's background (only with the composite)

Output ``phase`` (B, H, W, 3): normalised x, y, z phase of frame t in [−1, 1].

The foreground-background composite keeps the generator's phase where frame t's
magnitude is foreground (> −0.95) and fills the background with Gaussian noise
N(μ, σ), μ and σ fitted on the training set's background pixels by
:func:`fit_background_noise` and stored in the model's config (saved, loaded and
exported with it). The official code drew the noise from the *real* phase images, which
do not exist at inference; here the noise depends only on (μ, σ) and the seed, so the
same seed gives the same synthesis.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_hdl.errors import InputError
from keras_hdl.metrics import FOREGROUND_THRESHOLD
from keras_hdl.models.blocks import (
    BLOCK_LAYOUT,
    PAPER_WIDTHS,
    ConditionMaps,
    ConvNormAct,
    SpatialSizeCheck,
    checked_network_config,
    image_input,
    r2unet_features,
    validate_architecture,
)
from keras_hdl.phase_inputs import neighbour_offsets

PAPER_BACKGROUND_MEAN = 0.034  # the paper's fit on its data (Fig. 4); `train` refits on the training set
PAPER_BACKGROUND_STD = 0.034
DISCRIMINATOR_BLOCKS = 4  # conv4x4 stride-2 blocks: a 256×256 input gives a 16×16 patch map


def fit_background_noise(
    phases: np.ndarray, magnitudes: np.ndarray, threshold: float = FOREGROUND_THRESHOLD
) -> tuple[float, float]:
    """Mean and standard deviation of the normalised phase over background pixels.

    Args:
        phases: (..., H, W, 3) normalised phase in [−1, 1] (all three directions are pooled).
        magnitudes: (..., H, W) normalised magnitude of the same frames; background is
            magnitude <= ``threshold``.

    Returns:
        (mean, std) of the background phase values, dimensionless (normalised phase).
    """
    phases = np.asarray(phases, np.float64)
    magnitudes = np.asarray(magnitudes)
    if phases.shape[-1] != 3 or phases.shape[:-1] != magnitudes.shape:
        raise InputError(
            f"fit_background_noise needs phases (..., H, W, 3) and magnitudes (..., H, W) of the same frames; "
            f"got {phases.shape} and {magnitudes.shape}"
        )
    background = phases[magnitudes <= threshold]
    if background.size == 0:
        raise InputError(
            f"no background pixels (normalised magnitude <= {threshold}) to fit the background noise on; "
            "check the magnitude normalisation or the crop"
        )
    return float(background.mean()), float(background.std())


def background_seeds(batch_size: int, seed: int) -> np.ndarray:
    """Per-sample background seeds (batch_size, 2) int32 derived from one integer seed."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=(batch_size, 2), dtype=np.int32)


def unit_noise(seeds, sample_shape, dtype):
    """Standard normal noise (B, *sample_shape) of ``dtype``; sample b drawn statelessly from ``seeds[b]`` (B, 2)."""
    return tf.map_fn(
        lambda seed: tf.random.stateless_normal(sample_shape, seed=seed, dtype=dtype),
        tf.cast(seeds, tf.int32),
        fn_output_signature=dtype,
    )


@keras.saving.register_keras_serializable(package="keras_hdl")
class ForegroundBackgroundComposite(keras.layers.Layer):
    """Generator phase on the foreground, seeded Gaussian noise N(μ, σ) on the background.

    Inputs ``[phase (B,H,W,3), magnitude (B,H,W,1) of frame t, seed (B,2) int32]`` → (B,H,W,3) in
    [−1, 1]. Foreground: frame t's magnitude > ``foreground_threshold``. Noise is
    drawn per sample with a stateless RNG from that sample's seed, then clipped to [−1, 1].

    Args:
        background_mean, background_std: μ and σ of the background phase (normalised units).
        foreground_threshold: normalised magnitude above which a pixel is foreground.
    """

    def __init__(
        self,
        background_mean: float,
        background_std: float,
        foreground_threshold: float = FOREGROUND_THRESHOLD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not -1.0 <= background_mean <= 1.0:
            raise InputError(f"background_mean: must lie in [-1, 1] (normalised phase), got {background_mean}")
        if not 0.0 <= background_std <= 1.0:
            raise InputError(f"background_std: must lie in [0, 1] (normalised phase), got {background_std}")
        if not -1.0 <= foreground_threshold < 1.0:
            raise InputError(f"foreground_threshold: must lie in [-1, 1), got {foreground_threshold}")
        self.background_mean = float(background_mean)
        self.background_std = float(background_std)
        self.foreground_threshold = float(foreground_threshold)

    def background(self, seeds, like):
        """Seeded noise shaped like ``like`` (B, H, W, C); ``seeds`` (B, 2) int."""
        unit = unit_noise(seeds, tf.shape(like)[1:], like.dtype)
        return tf.clip_by_value(self.background_mean + self.background_std * unit, -1.0, 1.0)

    def call(self, inputs):
        phase, magnitude, seeds = inputs
        foreground = magnitude > self.foreground_threshold
        return ops.where(foreground, phase, self.background(seeds, phase))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {
            **super().get_config(),
            "background_mean": self.background_mean,
            "background_std": self.background_std,
            "foreground_threshold": self.foreground_threshold,
        }


@keras.saving.register_keras_serializable(package="keras_hdl")
class PhaseGenerator(keras.Model):
    """R2UNet n → 3 with a tanh output, optionally followed by the foreground-background composite.

    With ``composite=True`` (HDL) the model takes a ``seed`` input and its background
    is N(``background_mean``, ``background_std``); with ``composite=False`` it is the
    vanilla pix2pix generator (every pixel generated, no ``seed`` input).

    Args:
        widths: channels per level, finest first. recurrence: t. norm: "batch" or "instance".
        composite: apply the foreground-background composite.
        background_mean, background_std: fitted μ, σ (normalised phase); see :func:`fit_background_noise`.
        foreground_threshold: normalised magnitude above which a pixel is foreground.
        neighbours: magnitude frames seen, 3 (the paper: t−1, t, t+1) or 5 (t−2 … t+2; beyond the paper).
        cycle_position: also see t/T as two constant maps, cos and sin of 2π·t/T (beyond the paper).
        velocity_reference_cm_s: the (x, y, z) venc its phase output is expressed at (training re-expresses
            every scan's phase at it; synthesis converts to the scan's venc); None: each training scan's own
            venc (venc-blind: right only for scans of the training venc).
        frame_interval_reference_ms: the frame interval its output is expressed at (training re-expresses
            every scan's phase as displacement per frame, :func:`keras_hdl.series.displacement_venc`;
            synthesis converts with the scan's RR / T); None: blind to it (right only for scans whose frame
            interval is that of the training data).
    """

    def __init__(
        self,
        widths: Sequence[int] = PAPER_WIDTHS,
        recurrence: int = 2,
        norm: str = "batch",
        composite: bool = True,
        background_mean: float = PAPER_BACKGROUND_MEAN,
        background_std: float = PAPER_BACKGROUND_STD,
        foreground_threshold: float = FOREGROUND_THRESHOLD,
        neighbours: int = 3,
        cycle_position: bool = False,
        velocity_reference_cm_s: Sequence[float] | None = None,
        frame_interval_reference_ms: float | None = None,
        **kwargs,
    ):
        widths = validate_architecture(widths, recurrence, norm)
        if velocity_reference_cm_s is not None:
            reference = np.asarray(velocity_reference_cm_s, np.float64)
            if reference.shape != (3,) or not np.isfinite(reference).all() or (reference <= 0).any():
                raise InputError(
                    f"velocity_reference_cm_s: expected 3 positive velocities (x, y, z) in cm/s, got "
                    f"{velocity_reference_cm_s}"
                )
            velocity_reference_cm_s = tuple(float(v) for v in reference)
        if frame_interval_reference_ms is not None:
            if not (isinstance(frame_interval_reference_ms, int | float) and 0 < frame_interval_reference_ms < 1e4):
                raise InputError(
                    f"frame_interval_reference_ms: expected a frame interval in ms (> 0), got "
                    f"{frame_interval_reference_ms!r}"
                )
            frame_interval_reference_ms = float(frame_interval_reference_ms)
        centre = int(neighbour_offsets(neighbours).tolist().index(0))
        inputs = {"magnitudes": image_input(neighbours, "magnitudes")}
        magnitudes = SpatialSizeCheck(2 ** (len(widths) - 1), name="size_check")(inputs["magnitudes"])
        if cycle_position:
            inputs["position"] = keras.Input(shape=(1,), name="position")
            angle = 2.0 * np.pi * inputs["position"]
            maps = ConditionMaps(name="position_maps")(
                [ops.concatenate([ops.cos(angle), ops.sin(angle)], -1), magnitudes]
            )
            magnitudes = layers.Concatenate(name="magnitudes_with_position")([magnitudes, maps])
        features = r2unet_features(magnitudes, widths, recurrence, norm, name="r2unet")
        phase = layers.Conv2D(3, 1, activation="tanh", name="phase_output")(features)
        if composite:
            inputs["seed"] = keras.Input(shape=(2,), dtype="int32", name="seed")
            # float32 under any dtype policy: the seeded background noise is the same at every precision.
            composite_layer = ForegroundBackgroundComposite(
                background_mean, background_std, foreground_threshold, name="composite", dtype="float32"
            )
            centre_magnitude = inputs["magnitudes"][..., centre : centre + 1]
            phase = composite_layer([phase, centre_magnitude, inputs["seed"]])  # unrounded under bf16
        super().__init__(inputs=inputs, outputs={"phase": phase}, **kwargs)
        self.widths = widths
        self.recurrence = recurrence
        self.norm = norm
        self.composite = composite
        self.background_mean = float(background_mean)
        self.background_std = float(background_std)
        self.foreground_threshold = float(foreground_threshold)
        self.neighbours = neighbours
        self.centre = centre
        self.cycle_position = cycle_position
        self.velocity_reference_cm_s = velocity_reference_cm_s
        self.frame_interval_reference_ms = frame_interval_reference_ms

    def get_config(self):
        return {
            "widths": list(self.widths),
            "recurrence": self.recurrence,
            "norm": self.norm,
            "composite": self.composite,
            "background_mean": self.background_mean,
            "background_std": self.background_std,
            "foreground_threshold": self.foreground_threshold,
            "neighbours": self.neighbours,
            "cycle_position": self.cycle_position,
            "velocity_reference_cm_s": None
            if self.velocity_reference_cm_s is None
            else list(self.velocity_reference_cm_s),
            "frame_interval_reference_ms": self.frame_interval_reference_ms,
            "block_layout": BLOCK_LAYOUT,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**checked_network_config(config, cls.__name__))


@keras.saving.register_keras_serializable(package="keras_hdl")
class PatchDiscriminator(keras.Model):
    """PatchGAN: concat(image, context) → four conv4x4 stride-2 blocks → conv4x4 to one channel.

    Blocks have ``base_width`` × (1, 2, 4, 8) filters, the norm on every block but the
    first, LeakyReLU 0.2. Inputs ``image`` (B,H,W,image_channels) — the real or synthetic
    image — and ``context`` (B,H,W,context_channels) — what it was synthesised from.
    Output ``patches`` (B, H/16, W/16, 1): one unbounded least-squares score per patch
    (16×16 for 256×256 inputs). Phase synthesis: image = phase (3), context = the
    magnitude triplet (3).
    """

    def __init__(
        self,
        image_channels: int = 3,
        context_channels: int = 3,
        base_width: int = 64,
        norm: str = "instance",
        **kwargs,
    ):
        for name, value in (
            ("image_channels", image_channels),
            ("context_channels", context_channels),
            ("base_width", base_width),
        ):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: need a positive integer, got {value!r}")
        validate_architecture((1, 1), 1, norm)
        inputs = {"image": image_input(image_channels, "image"), "context": image_input(context_channels, "context")}
        size_check = SpatialSizeCheck(2**DISCRIMINATOR_BLOCKS, name="size_check")
        x = layers.Concatenate(name="stack_inputs")([size_check(inputs["image"]), size_check(inputs["context"])])
        for block in range(DISCRIMINATOR_BLOCKS):
            x = ConvNormAct(
                base_width * 2**block,
                4,
                strides=2,
                norm=None if block == 0 else norm,
                activation="leaky_relu",
                name=f"block{block + 1}",
            )(x)
        patches = layers.Conv2D(1, 4, padding="same", name="patches")(x)
        super().__init__(inputs=inputs, outputs={"patches": patches}, **kwargs)
        self.image_channels = image_channels
        self.context_channels = context_channels
        self.base_width = base_width
        self.norm = norm

    def get_config(self):
        return {
            "image_channels": self.image_channels,
            "context_channels": self.context_channels,
            "base_width": self.base_width,
            "norm": self.norm,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
