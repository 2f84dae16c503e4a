"""The paper's appendix experiment (Appendix B, Figs. 13–14): UNet vs GAN on two synthetic circle tasks.

The paper's hypothesis: when source and target share their style, an L1-trained UNet beats a
GAN (the adversarial loss hurts); when the target holds detail the input cannot determine, the
UNet is still closer *per image* but the GAN's outputs are closer *as a distribution*.

Datasets (images (N, H, W) in [−1, 1]; the paper's "four coloured circles and random noisy
backgrounds", with four grey levels standing in for the colours, so the networks have one channel):
every image holds four non-overlapping circles, circle i in quadrant i with grey level
``CIRCLE_LEVELS[i]``, radius and centre drawn at random (seeded numpy RNG), over a background of
level ``BACKGROUND_LEVEL`` plus Gaussian noise of std ``BACKGROUND_NOISE``.

- ``shape_changing`` (one-to-one, same style): the target draws each circle grown by
  ``SHAPE_GROWTH`` (radius ×1.5) and moved by ``SHAPE_SHIFT_FRACTION`` of the quadrant size down
  and right (2 px at 32×32), over the *same* background noise as the input. The paper only says
  the circles change radius and position; a fixed rule keeps the mapping deterministic, so L1
  training alone can reach the target (apart from the background hidden under the input circles).
- ``texture_painting`` (one-to-many): the same circles in input and target; the input's are flat,
  the target paints each circle's pixels with Gaussian noise of std ``TEXTURE_NOISE`` around its
  grey level, over a fresh background (new noise of the same statistics). Nothing in the input
  determines the texture or the target's background noise: the L1 optimum is the smooth mean,
  while a GAN can paint noise (the input's own background shows it what background noise looks like).

Networks: the generator is a small R2UNet (:mod:`keras_hdl.models.blocks`, instance norm, tanh
output); the UNet trains it with L1 only, the GAN (pix2pix) with LSGAN + λ·L1 against a
:class:`~keras_hdl.models.PatchDiscriminator` that sees (output, input). Both generators start
from the same initial weights and see the same batches.

λ is 10, not pix2pix's 100, so that the adversarial term can paint texture within a few hundred
steps; the presets use one recurrence (the paper: 2) to stay fast on a CPU.

Evaluation on a held-out test set: per image, MSE and 1 − SSIM to the ground truth
(:mod:`keras_hdl.metrics`); the amount of texture (:func:`circle_texture`,
:func:`background_texture`), whose ground-truth value a method's outputs should match as a
group; a t-SNE embedding (scikit-learn, ``random_state`` = seed) of the ground-truth, UNet and
GAN test images, in which we measure each output's distance to its own ground truth (per image)
and each group centroid's distance to the ground-truth centroid (as a group: the paper's crosses).
Identity (output = input) is a reference row.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, save_png
from keras_hdl.losses import LeastSquaresGANLoss, mean_absolute_error
from keras_hdl.markdown import markdown_table
from keras_hdl.metrics import mse, ssim
from keras_hdl.models.blocks import SpatialSizeCheck, image_input, r2unet_features
from keras_hdl.models.phase import PatchDiscriminator

TASKS = ("shape_changing", "texture_painting")
TASK_TITLES = {"shape_changing": "Shape changing", "texture_painting": "Texture painting"}
METHODS = ("identity", "unet", "gan")
METHOD_TITLES = {"identity": "identity (input)", "unet": "UNet (L1)", "gan": "GAN (LSGAN + L1)"}
GROUP_STYLES = {  # t-SNE groups: label, colour, marker (distinct shapes: a test case's three points often overlap)
    "ground_truth": ("ground truth", "#333333", "o"),
    "unet": ("UNet", "#1f77b4", "s"),
    "gan": ("GAN", "#d62728", "^"),
}
TEXTURES = ("circle_texture", "background_texture")
RNG_STREAMS = ("train", "test", "batches")  # independent numpy streams per (seed, task)

CIRCLE_LEVELS = (-0.45, -0.15, 0.15, 0.45)  # grey level of circle i (in quadrant i, row-major)
BACKGROUND_LEVEL = -0.8
BACKGROUND_NOISE = 0.05  # std of the background's Gaussian noise (normalised intensity)
TEXTURE_NOISE = 0.15  # std of the texture painted into the target circles
SHAPE_RADIUS_FRACTIONS = (0.15, 0.25)  # input radius range, fraction of the quadrant (the grown circle must fit)
TEXTURE_RADIUS_FRACTIONS = (0.25, 0.4)  # larger circles: room for texture
SHAPE_GROWTH = 1.5  # target radius / input radius
SHAPE_SHIFT_FRACTION = 0.125  # target centre − input centre, along rows and columns, fraction of the quadrant
MARGIN_PX = 1.0  # gap between a circle and its quadrant's border, pixels
TEXTURE_EDGE_PX = 1.5  # circles shrink by this before their texture is measured, pixels
SAMPLE_ROWS = 4  # test images shown per sample grid
NORM = "instance"  # of generator and discriminator: no batch statistics to settle in a few hundred steps


@dataclass(frozen=True)
class CirclesSettings:
    """Sizes of one preset.

    image_size: pixels per side (a multiple of 16, the PatchGAN's stride).
    train_images / test_images: pairs per task. steps / batch_size: optimisation steps, images per step.
    widths / recurrence: the generator R2UNet. discriminator_width: the PatchGAN's base width.
    learning_rate, beta_1: Adam, both networks. l1_weight: λ of the GAN's L1 term (pix2pix: 100).
    """

    image_size: int
    train_images: int
    test_images: int
    steps: int
    batch_size: int
    widths: tuple[int, ...]
    recurrence: int
    discriminator_width: int
    learning_rate: float
    beta_1: float
    l1_weight: float


PRESETS = {
    "tiny": CirclesSettings(
        image_size=32,
        train_images=256,
        test_images=48,
        steps=150,
        batch_size=8,
        widths=(8, 16, 32),
        recurrence=1,
        discriminator_width=8,
        learning_rate=2e-3,
        beta_1=0.5,
        l1_weight=10.0,
    ),
    "cpu": CirclesSettings(
        image_size=64,
        train_images=1024,
        test_images=96,
        steps=800,
        batch_size=8,
        widths=(8, 16, 32, 64),
        recurrence=1,
        discriminator_width=8,
        learning_rate=1e-3,
        beta_1=0.5,
        l1_weight=10.0,
    ),
}


@dataclass(frozen=True)
class CirclePairs:
    """Input and target images of one task, with the circles drawn in each.

    inputs, targets: (N, H, W) float32 in [−1, 1].
    input_circles, target_circles: (N, 4, 3) float64 rows (centre row, centre column, radius), pixels;
    pixel (i, j) has its centre at (i, j) and lies in a circle when its centre does.
    """

    inputs: np.ndarray
    targets: np.ndarray
    input_circles: np.ndarray
    target_circles: np.ndarray


def settings_for(preset: str) -> CirclesSettings:
    """The sizes of ``preset``; an unknown name is an :class:`InputError` naming the known ones."""
    if preset not in PRESETS:
        raise InputError(f"circles experiment: unknown preset {preset!r}; use one of {sorted(PRESETS)}")
    return PRESETS[preset]


def circle_masks(circles: np.ndarray, image_size: int) -> np.ndarray:
    """Pixels inside each circle: circles (..., 3) rows (row, column, radius) px → bool (..., H, W)."""
    coordinates = np.arange(image_size, dtype=np.float64)
    rows = coordinates[:, None] - circles[..., 0, None, None]
    columns = coordinates[None, :] - circles[..., 1, None, None]
    return rows**2 + columns**2 <= circles[..., 2, None, None] ** 2


def paint_circles(background: np.ndarray, circles: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
    """Draw circle i of every image with level ``CIRCLE_LEVELS[i]`` (+ ``fill``) over ``background``.

    background (N, H, W); circles (N, 4, 3); fill: optional (N, H, W) added inside the circles
    (the texture). Returns float32 (N, H, W) clipped to [−1, 1].
    """
    masks = circle_masks(circles, background.shape[-1])
    levels = np.asarray(CIRCLE_LEVELS)[None, :, None, None]
    inside = masks.any(axis=1)
    circle_level = np.sum(np.where(masks, levels, 0.0), axis=1)  # circles do not overlap
    if fill is not None:
        circle_level = circle_level + fill
    return np.clip(np.where(inside, circle_level, background), -1.0, 1.0).astype(np.float32)


def _random_circles(
    count: int,
    image_size: int,
    radius_fractions: tuple[float, float],
    growth: float,
    shift_px: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Four circles per image, circle i inside quadrant i: (count, 4, 3) rows (row, column, radius) px.

    Radii are uniform in ``radius_fractions`` × the quadrant size.
    Centres leave room for the circle grown by ``growth`` and moved by ``shift_px`` down and right
    (the shape-changing target) inside the same quadrant; growth 1 and shift 0 for the circle alone.
    """
    quadrant = image_size / 2
    radii = rng.uniform(*radius_fractions, size=(count, 4)) * quadrant
    origins = np.array([(0, 0), (0, 1), (1, 0), (1, 1)], dtype=np.float64) * quadrant  # quadrant corners (4, 2)
    low = origins[None] + (radii + MARGIN_PX)[..., None]
    high = origins[None] + quadrant - MARGIN_PX - (growth * radii + shift_px)[..., None]
    centres = low + rng.uniform(size=(count, 4, 2)) * (high - low)
    return np.concatenate([centres, radii[..., None]], axis=-1)


def _rng(seed: int, task: str, stream: str) -> np.random.Generator:
    """The numpy RNG of one (seed, task, stream): train data, test data or the training batches."""
    return np.random.default_rng([seed, TASKS.index(task), RNG_STREAMS.index(stream)])


def make_pairs(task: str, count: int, image_size: int, seed: int, split: str = "train") -> CirclePairs:
    """``count`` (input, target) pairs of ``task`` at ``image_size`` px, reproducible from (seed, task, split).

    ``split`` is "train" or "test" (independent random streams).
    """
    if split not in ("train", "test"):
        raise InputError(f"circles experiment: unknown split {split!r}; use 'train' or 'test'")
    if task not in TASKS:
        raise InputError(f"circles experiment: unknown task {task!r}; use one of {list(TASKS)}")
    rng = _rng(seed, task, split)
    shape = (count, image_size, image_size)
    background = BACKGROUND_LEVEL + BACKGROUND_NOISE * rng.standard_normal(shape)
    if task == "shape_changing":
        shift = SHAPE_SHIFT_FRACTION * image_size / 2
        circles = _random_circles(count, image_size, SHAPE_RADIUS_FRACTIONS, SHAPE_GROWTH, shift, rng)
        target_circles = circles * [1.0, 1.0, SHAPE_GROWTH] + [shift, shift, 0.0]
        return CirclePairs(
            paint_circles(background, circles), paint_circles(background, target_circles), circles, target_circles
        )
    circles = _random_circles(count, image_size, TEXTURE_RADIUS_FRACTIONS, 1.0, 0.0, rng)
    target_background = BACKGROUND_LEVEL + BACKGROUND_NOISE * rng.standard_normal(shape)
    texture = TEXTURE_NOISE * rng.standard_normal(shape)
    targets = paint_circles(target_background, circles, fill=texture)
    return CirclePairs(paint_circles(background, circles), targets, circles, circles)


def build_generator(settings: CirclesSettings, name: str) -> keras.Model:
    """The R2UNet generator shared by UNet and GAN: image (B, H, W, 1) → image (B, H, W, 1), tanh."""
    image = image_input(1, "image")
    checked = SpatialSizeCheck(2 ** (len(settings.widths) - 1), name="size_check")(image)
    features = r2unet_features(checked, settings.widths, settings.recurrence, NORM, name="r2unet")
    output = keras.layers.Conv2D(1, 1, activation="tanh", name="output")(features)
    return keras.Model(image, output, name=name)


class PairTrainer:
    """The generator (and, for the GAN, a PatchGAN discriminator), their Adams and one traced train step.

    UNet (``adversarial=False``): generator loss L1. GAN: generator loss LSGAN_G + λ·L1 and
    discriminator loss ½ LSGAN_D on (image, input) pairs; one tape per network. :meth:`reset`
    puts every weight and optimizer slot back to its initial value, so the one trace (seconds
    on a CPU) serves both tasks.
    """

    def __init__(self, settings: CirclesSettings, adversarial: bool, name: str):
        self.settings = settings
        self.generator = build_generator(settings, name=f"{name}_generator")
        self.discriminator = None
        networks = [self.generator]
        if adversarial:
            self.discriminator = PatchDiscriminator(1, 1, base_width=settings.discriminator_width, norm=NORM)
            self.discriminator.build({"image": (None, None, None, 1), "context": (None, None, None, 1)})
            networks.append(self.discriminator)
        self.optimizers = [keras.optimizers.Adam(settings.learning_rate, beta_1=settings.beta_1) for _ in networks]
        for network, optimizer in zip(networks, self.optimizers, strict=True):
            optimizer.build(network.trainable_variables)  # outside the trace: tracing the build is slow
        self.networks = networks
        self.gan = LeastSquaresGANLoss()
        self.state = [v for network in networks for v in network.variables]
        self.state += [v for optimizer in self.optimizers for v in optimizer.variables]
        self.initial_state = [v.numpy() for v in self.state]
        self.step = tf.function(self.train_step)

    def reset(self) -> None:
        """Every network weight and optimizer variable back to its value at construction."""
        for variable, value in zip(self.state, self.initial_state, strict=True):
            variable.assign(value)

    def train_step(self, source: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        """One update of every network on (input, target) batches (B, H, W, 1); returns the batch losses."""
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            output = self.generator(source, training=True)
            losses = {"l1": tf.reduce_mean(mean_absolute_error(target, output))}
            network_losses = [losses["l1"]]
            if self.discriminator is not None:
                fake = self.discriminator({"image": output, "context": source}, training=True)["patches"]
                real = self.discriminator({"image": target, "context": source}, training=True)["patches"]
                losses["adversarial"] = tf.reduce_mean(self.gan.generator(fake))
                losses["discriminator"] = tf.reduce_mean(self.gan.discriminator(real, fake))
                network_losses = [
                    losses["adversarial"] + self.settings.l1_weight * losses["l1"],
                    losses["discriminator"],
                ]
        tapes = (generator_tape, discriminator_tape)[: len(self.networks)]
        for network, optimizer, tape, loss in zip(self.networks, self.optimizers, tapes, network_losses, strict=True):
            variables = network.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return losses

    def fit(self, pairs: CirclePairs, batches: np.ndarray) -> dict[str, float]:
        """Reset, then one step per row of ``batches`` (steps, batch_size) of training indices.

        Returns each loss averaged over the last 10 % of the steps.
        """
        self.reset()
        history = [
            self.step(pairs.inputs[indices, ..., None], pairs.targets[indices, ..., None]) for indices in batches
        ]
        tail = history[-max(1, len(history) // 10) :]
        return {name: float(np.mean([float(losses[name]) for losses in tail])) for name in tail[0]}

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Generator outputs (N, H, W) of inputs (N, H, W), inference mode."""
        return self.generator(tf.constant(images[..., None]), training=False).numpy()[..., 0]


def _pooled_region_std(images: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Std of the pixels about their own region's mean, pooled over the regions: (N,H,W), (N,R,H,W) → (N,)."""
    images = np.asarray(images, np.float64)[:, None]
    counts = regions.sum(axis=(-2, -1))
    means = np.where(regions, images, 0.0).sum(axis=(-2, -1)) / np.maximum(counts, 1)
    squares = np.where(regions, (images - means[..., None, None]) ** 2, 0.0).sum(axis=(-2, -1))
    return np.sqrt(squares.sum(axis=1) / counts.sum(axis=1))


def _with_radius_change(circles: np.ndarray, change_px: float) -> np.ndarray:
    return circles + np.array([0.0, 0.0, change_px])


def circle_texture(images: np.ndarray, circles: np.ndarray) -> np.ndarray:
    """Texture inside the circles: std of the pixels about their circle's mean, pooled over the circles.

    images (N, H, W); circles (N, 4, 3) rows (row, column, radius) px, shrunk by ``TEXTURE_EDGE_PX``
    so that blurred edges do not count. Returns (N,) in normalised intensity (the texture-painting
    ground truth: about ``TEXTURE_NOISE``; flat circles: 0).
    """
    return _pooled_region_std(images, circle_masks(_with_radius_change(circles, -TEXTURE_EDGE_PX), images.shape[-1]))


def background_texture(images: np.ndarray, circles: np.ndarray) -> np.ndarray:
    """Std of the background pixels (outside the circles grown by ``TEXTURE_EDGE_PX``): (N, H, W) → (N,).

    The ground truth's is about ``BACKGROUND_NOISE``; a smooth background gives 0.
    """
    grown = circle_masks(_with_radius_change(circles, TEXTURE_EDGE_PX), images.shape[-1])
    return _pooled_region_std(images, ~grown.any(axis=1, keepdims=True))


def embed(groups: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """t-SNE of all images of all groups together: {name: (N, H, W)} → {name: (N, 2)}."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    names = list(groups)
    flat = np.concatenate([groups[name].reshape(len(groups[name]), -1) for name in names]).astype(np.float64)
    perplexity = min(30.0, (len(flat) - 1) / 3)
    with threadpool_limits(1):  # its OpenMP threads crawl on a busy machine; one thread is ~10× faster there
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(flat)
    return dict(zip(names, np.split(points, len(names)), strict=True))


def _summary(values: np.ndarray) -> dict:
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "per_image": [float(v) for v in values]}


def _textures(images: np.ndarray, circles: np.ndarray) -> dict:
    return {
        "circle_texture": _summary(circle_texture(images, circles)),
        "background_texture": _summary(background_texture(images, circles)),
    }


def evaluate_outputs(test: CirclePairs, outputs: dict[str, np.ndarray], seed: int) -> tuple[dict, dict]:
    """Per-image distances and the t-SNE view of one task's test outputs.

    outputs: {method: (N, H, W)} for every name in ``METHODS``. Returns (results, t-SNE points
    (N, 2) per group of ``GROUP_STYLES``).
    """
    results = {"ground_truth": _textures(test.targets, test.target_circles), "methods": {}}
    for method, images in outputs.items():
        results["methods"][method] = {
            "mse": _summary(mse(images, test.targets)),
            "one_minus_ssim": _summary(1.0 - ssim(images, test.targets)),
            **_textures(images, test.target_circles),
        }
    points = embed({"ground_truth": test.targets, "unet": outputs["unet"], "gan": outputs["gan"]}, seed)
    truth_centroid = points["ground_truth"].mean(axis=0)
    for method in ("unet", "gan"):
        entry = results["methods"][method]
        entry["tsne_distance_to_own_truth"] = _summary(np.linalg.norm(points[method] - points["ground_truth"], axis=1))
        entry["tsne_centroid_distance"] = float(np.linalg.norm(points[method].mean(axis=0) - truth_centroid))
    return results, points


def _task_outputs(
    task: str, settings: CirclesSettings, seed: int, trainers: dict[str, PairTrainer]
) -> tuple[CirclePairs, dict, dict]:
    """Make one task's data, train both methods, predict the test set: (test pairs, outputs, training losses)."""
    train = make_pairs(task, settings.train_images, settings.image_size, seed, "train")
    test = make_pairs(task, settings.test_images, settings.image_size, seed, "test")
    batches = _rng(seed, task, "batches").integers(0, settings.train_images, size=(settings.steps, settings.batch_size))
    outputs, training = {"identity": test.inputs}, {}
    for method, trainer in trainers.items():
        training[method] = trainer.fit(train, batches)
        outputs[method] = trainer.predict(test.inputs)
    return test, outputs, training


def _reading(results: dict) -> dict:
    """Which method wins per image and as a group, from the numbers."""
    methods, truth = results["methods"], results["ground_truth"]

    def closer(distance) -> str:
        return min(("unet", "gan"), key=lambda method: distance(methods[method]))

    reading = {
        "closer_per_image_mse": closer(lambda entry: entry["mse"]["mean"]),
        "closer_per_image_ssim": closer(lambda entry: entry["one_minus_ssim"]["mean"]),
        "closer_per_image_tsne": closer(lambda entry: entry["tsne_distance_to_own_truth"]["mean"]),
        "closer_group_tsne_centroid": closer(lambda entry: entry["tsne_centroid_distance"]),
    }
    for key in TEXTURES:
        reading[f"closer_{key}"] = closer(lambda entry, key=key: abs(entry[key]["mean"] - truth[key]["mean"]))
    reading["unet_beats_identity_mse"] = methods["unet"]["mse"]["mean"] < methods["identity"]["mse"]["mean"]
    return reading


def run_circles_experiment(out_dir: Path, preset: str = "tiny", seed: int = 0) -> dict:
    """Run the appendix experiment at ``preset`` size and write report.md, results.json and figures.

    Files in ``out_dir`` (each written atomically, report.md last): per task
    ``{task}_samples.png`` (input / ground truth / UNet / GAN on a few test images) and
    ``{task}_tsne.png``; ``results.json`` (every number); ``report.md``. Returns the results dict.
    """
    settings = settings_for(preset)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"circles experiment: seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"circles experiment: output folder {out_dir} is a file; give a folder path")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    settings_json = {**asdict(settings), "widths": list(settings.widths)}  # as results.json reads back
    results = {"experiment": "circles", "preset": preset, "seed": seed, "settings": settings_json, "tasks": {}}
    trainers = {}
    for method in ("unet", "gan"):
        keras.utils.set_random_seed(seed)  # both generators start from the same weights
        trainers[method] = PairTrainer(settings, adversarial=method == "gan", name=method)
    for task in TASKS:
        test, outputs, training = _task_outputs(task, settings, seed, trainers)
        task_results, points = evaluate_outputs(test, outputs, seed)
        task_results["training_losses"] = training
        task_results["reading"] = _reading(task_results)
        task_results["figures"] = {
            "samples": _write_samples(out_dir / f"{task}_samples.png", task, test, outputs),
            "tsne": _write_embedding(out_dir / f"{task}_tsne.png", task, points),
        }
        results["tasks"][task] = task_results
    with atomic_path(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    report = render_report(results, elapsed_s=time.perf_counter() - started)
    with atomic_path(out_dir / "report.md") as tmp:
        tmp.write_text(report)
    return results


def _figure(rows: int, columns: int, size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False)


def _save(figure, path: Path) -> str:
    return save_png(figure, path, dpi=100).name


def _write_samples(path: Path, task: str, test: CirclePairs, outputs: dict[str, np.ndarray]) -> str:
    """Grid of the first test images: columns input / ground truth / UNet / GAN; returns the file name."""
    columns = {"input": test.inputs, "ground truth": test.targets, "UNet": outputs["unet"], "GAN": outputs["gan"]}
    rows = min(SAMPLE_ROWS, len(test.inputs))
    figure, axes = _figure(rows, len(columns), (2 * len(columns), 2 * rows))
    for row in range(rows):
        for column, (title, images) in enumerate(columns.items()):
            axis = axes[row, column]
            axis.imshow(images[row], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title)
    figure.suptitle(f"{TASK_TITLES[task]}: test images")
    figure.tight_layout()
    return _save(figure, path)


def _write_embedding(path: Path, task: str, points: dict[str, np.ndarray]) -> str:
    """t-SNE scatter of ground truth, UNet and GAN test images, crosses at the group centroids."""
    figure, axes = _figure(1, 1, (5.5, 5))
    axis = axes[0, 0]
    for group, (label, colour, marker) in GROUP_STYLES.items():
        axis.scatter(*points[group].T, s=22, marker=marker, facecolors="none", edgecolors=colour, label=label)
        axis.scatter(*points[group].mean(axis=0), s=160, marker="x", linewidths=3, color=colour)
    axis.set_title(f"{TASK_TITLES[task]}: t-SNE of test images (× = group mean)")
    axis.set_xlabel("t-SNE 1")
    axis.set_ylabel("t-SNE 2")
    axis.legend()
    figure.tight_layout()
    return _save(figure, path)


def format_cell(summary: dict | float | None) -> str:
    """Table cell: ``mean (std)`` of a summary, a bare number, or ``–``; 4 significant digits."""
    if summary is None:
        return "–"
    if isinstance(summary, dict):
        return f"{summary['mean']:.4g} ({summary['std']:.4g})"
    return f"{summary:.4g}"


TABLE_COLUMNS = (
    ("mse", "MSE"),
    ("one_minus_ssim", "1 − SSIM"),
    ("circle_texture", "texture in circles"),
    ("background_texture", "background texture"),
    ("tsne_distance_to_own_truth", "t-SNE distance to own truth"),
    ("tsne_centroid_distance", "t-SNE centroid distance to truth"),
)


LOSS_KEYS = ("l1", "adversarial", "discriminator")


def _task_table(task_results: dict) -> list[str]:
    truth = task_results["ground_truth"]
    rows = [["ground truth", *(format_cell(truth.get(key)) for key, _ in TABLE_COLUMNS)]]
    for method in METHODS:
        entry = task_results["methods"][method]
        rows.append([METHOD_TITLES[method], *(format_cell(entry.get(key)) for key, _ in TABLE_COLUMNS)])
    return markdown_table(["method", *(title for _, title in TABLE_COLUMNS)], rows)


def _task_reading(task: str, task_results: dict) -> str:
    methods, reading, truth = task_results["methods"], task_results["reading"], task_results["ground_truth"]
    name = {"unet": "the UNet", "gan": "the GAN"}
    unet, gan = methods["unet"], methods["gan"]
    sentences = [
        f"Per image, {name[reading['closer_per_image_mse']]} is closer to the ground truth by MSE "
        f"(UNet {unet['mse']['mean']:.4g}, GAN {gan['mse']['mean']:.4g}) and "
        f"{name[reading['closer_per_image_ssim']]} by 1 − SSIM "
        f"(UNet {unet['one_minus_ssim']['mean']:.4g}, GAN {gan['one_minus_ssim']['mean']:.4g}); "
        f"in the t-SNE view {name[reading['closer_per_image_tsne']]}'s outputs lie nearer their own ground truth.",
        f"As a group, {name[reading['closer_group_tsne_centroid']]}'s t-SNE centroid is nearer the ground truth's "
        f"(UNet {unet['tsne_centroid_distance']:.4g}, GAN {gan['tsne_centroid_distance']:.4g}).",
    ]
    for key, where in (("circle_texture", "in the circles"), ("background_texture", "of the background")):
        sentences.append(
            f"The texture {where} is {truth[key]['mean']:.4g} in the ground truth, {unet[key]['mean']:.4g} "
            f"in the UNet's outputs and {gan[key]['mean']:.4g} in the GAN's: {name[reading[f'closer_{key}']]} "
            "is closer."
        )
    if task == "shape_changing":
        verdict = "below" if reading["unet_beats_identity_mse"] else "NOT below"
        sentences.append(
            f"The UNet's MSE is {verdict} the identity baseline's ({methods['identity']['mse']['mean']:.4g})."
        )
    return " ".join(sentences)


def _paper_comparison(results: dict) -> list[str]:
    shape, texture = (results["tasks"][task]["reading"] for task in TASKS)
    per_image = all(results["tasks"][t]["reading"]["closer_per_image_mse"] == "unet" for t in TASKS)
    verdict = {True: "reproduced", False: "not reproduced"}
    return [
        "- Paper: the GAN loss hurts shape changing (the UNet is better). Here the "
        f"{'UNet' if shape['closer_per_image_mse'] == 'unet' else 'GAN'} has the lower MSE: "
        f"{verdict[shape['closer_per_image_mse'] == 'unet']}.",
        "- Paper: per image, UNet outputs are closer to the ground truth than GAN outputs on both tasks. "
        f"Here (MSE): {verdict[per_image]}.",
        "- Paper: on texture painting the GAN's outputs are closer to the ground truth as a distribution "
        f"(t-SNE centroids). Here: {verdict[texture['closer_group_tsne_centroid'] == 'gan']} by the t-SNE centroid, "
        f"{verdict[texture['closer_circle_texture'] == 'gan']} by the texture in the circles, "
        f"{verdict[texture['closer_background_texture'] == 'gan']} by the texture of the background.",
    ]


def render_report(results: dict, elapsed_s: float | None = None) -> str:
    """The Markdown report of ``results`` (as written to results.json)."""
    settings = results["settings"]
    timing = f"; ran in {elapsed_s:.0f} s" if elapsed_s is not None else ""
    lines = [
        "# Appendix experiment: UNet vs GAN on synthetic circles",
        "",
        f"Preset `{results['preset']}`: {settings['image_size']}×{settings['image_size']} px images, "
        f"{settings['train_images']} training and {settings['test_images']} test pairs per task, "
        f"{settings['steps']} steps of batch {settings['batch_size']}, R2UNet widths {settings['widths']}, "
        f"GAN L1 weight λ = {settings['l1_weight']:g}; seed {results['seed']}{timing}.",
        "",
        "Inputs hold four flat grey circles (one per quadrant) on a noisy background. *Shape changing*: the "
        f"target circles are {SHAPE_GROWTH:g}× larger and moved {SHAPE_SHIFT_FRACTION:g} of a quadrant down and "
        "right, over the input's background (one-to-one). *Texture painting*: the target circles are painted with "
        f"random noise of std {TEXTURE_NOISE:g}, over fresh background noise (one-to-many). The UNet trains the "
        "R2UNet generator with L1; the GAN trains the same generator (same initial weights, same batches) with "
        "LSGAN + λ·L1 against a PatchGAN.",
        "",
        "Cells: mean (std) over the test images, on images in [−1, 1]. Texture in circles: std of the pixels "
        f"about their circle's mean inside the ground-truth circles shrunk by {TEXTURE_EDGE_PX:g} px; background "
        f"texture: std of the pixels outside the circles grown by {TEXTURE_EDGE_PX:g} px. t-SNE distances are in "
        "embedding units; only their ranking means anything (t-SNE keeps neighbourhoods, not distances).",
    ]
    for task in TASKS:
        task_results = results["tasks"][task]
        figures = task_results["figures"]
        lines += [
            "",
            f"## {TASK_TITLES[task]}",
            "",
            *_task_table(task_results),
            "",
            _task_reading(task, task_results),
            "",
            f"![{TASK_TITLES[task]} samples]({figures['samples']})",
            "",
            f"![{TASK_TITLES[task]} t-SNE]({figures['tsne']})",
        ]
    lines += ["", "## Against the paper (Appendix B)", "", *_paper_comparison(results), ""]
    lines += ["## Training losses (mean over the last 10 % of steps)", ""]
    loss_rows = [
        [TASK_TITLES[task], METHOD_TITLES[method], *(format_cell(losses.get(key)) for key in LOSS_KEYS)]
        for task in TASKS
        for method, losses in results["tasks"][task]["training_losses"].items()
    ]
    lines += markdown_table(["task", "method", "L1", "adversarial", "discriminator"], loss_rows)
    return "\n".join(lines) + "\n"
