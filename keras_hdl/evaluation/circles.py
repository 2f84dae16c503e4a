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

Networks (:mod:`keras_hdl.training.tasks.circles`): the generator is a small R2UNet
(:mod:`keras_hdl.models.blocks`, instance norm, tanh output); the UNet trains it with L1 only, the
GAN (pix2pix) with LSGAN + λ·L1 against a :class:`~keras_hdl.models.PatchDiscriminator` that sees
(output, input). Both generators start from the same initial weights and see the same batches.

λ is 10, not pix2pix's 100, so that the adversarial term can paint texture within a few hundred
steps; the presets (``configs/experiments/circles.yaml``) use one recurrence (the paper: 2) to stay
fast on a CPU.

Evaluation on a held-out test set: per image, MSE and 1 − SSIM to the ground truth
(:mod:`keras_hdl.metrics`); the amount of texture (:func:`circle_texture`,
:func:`background_texture`), whose ground-truth value a method's outputs should match as a
group; a t-SNE embedding (scikit-learn, ``random_state`` = seed) of the ground-truth, UNet and
GAN test images, in which we measure each output's distance to its own ground truth (per image)
and each group centroid's distance to the ground-truth centroid (as a group: the paper's crosses).
Identity (output = input) is a reference row.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.evaluation.circles_data import (
    TASKS,
    TEXTURES,
    CirclePairs,
    CirclesSettings,
    background_texture,
    circle_texture,
    make_pairs,
    rng_of,
    settings_for,
)
from keras_hdl.evaluation.circles_report import render_report, write_embedding, write_samples
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.metrics import mse, ssim


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


def _task_outputs(task: str, settings: CirclesSettings, seed: int, trainers: dict) -> tuple[CirclePairs, dict, dict]:
    """Make one task's data, train both methods, predict the test set: (test pairs, outputs, training losses)."""
    train = make_pairs(task, settings.train_images, settings.image_size, seed, "train")
    test = make_pairs(task, settings.test_images, settings.image_size, seed, "test")
    batches = rng_of(seed, task, "batches").integers(
        0, settings.train_images, size=(settings.steps, settings.batch_size)
    )
    outputs, training = {"identity": test.inputs}, {}
    for method, trainer in trainers.items():
        training[method] = trainer.train_on_pairs(train, batches)
        outputs[method] = trainer.generate(test.inputs)
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
    from keras_hdl.training.tasks.circles import PairTrainer

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
            "samples": write_samples(out_dir / f"{task}_samples.png", task, test, outputs),
            "tsne": write_embedding(out_dir / f"{task}_tsne.png", task, points),
        }
        results["tasks"][task] = task_results
    write_json(out_dir / "results.json", results)
    report = render_report(results, elapsed_s=time.perf_counter() - started)
    with atomic_path(out_dir / "report.md") as tmp:
        tmp.write_text(report)
    return results
