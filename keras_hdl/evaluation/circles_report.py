"""The circles experiment's figures and Markdown report, from its results (as results.json holds them).

See :mod:`keras_hdl.evaluation.circles` for the experiment itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.evaluation.circles_data import (
    SHAPE_GROWTH,
    SHAPE_SHIFT_FRACTION,
    TASKS,
    TEXTURE_EDGE_PX,
    TEXTURE_NOISE,
    CirclePairs,
)
from keras_hdl.io_utils import save_png
from keras_hdl.markdown import markdown_table
from keras_hdl.plotting import new_figure

TASK_TITLES = {"shape_changing": "Shape changing", "texture_painting": "Texture painting"}
METHODS = ("identity", "unet", "gan")
METHOD_TITLES = {"identity": "identity (input)", "unet": "UNet (L1)", "gan": "GAN (LSGAN + L1)"}
GROUP_STYLES = {  # t-SNE groups: label, colour, marker (distinct shapes: a test case's three points often overlap)
    "ground_truth": ("ground truth", "#333333", "o"),
    "unet": ("UNet", "#1f77b4", "s"),
    "gan": ("GAN", "#d62728", "^"),
}
SAMPLE_ROWS = 4  # test images shown per sample grid


def _save(figure, path: Path) -> str:
    return save_png(figure, path, dpi=100).name


def write_samples(path: Path, task: str, test: CirclePairs, outputs: dict[str, np.ndarray]) -> str:
    """Grid of the first test images: columns input / ground truth / UNet / GAN; returns the file name."""
    columns = {"input": test.inputs, "ground truth": test.targets, "UNet": outputs["unet"], "GAN": outputs["gan"]}
    rows = min(SAMPLE_ROWS, len(test.inputs))
    figure, axes = new_figure(rows, len(columns), (2 * len(columns), 2 * rows))
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


def write_embedding(path: Path, task: str, points: dict[str, np.ndarray]) -> str:
    """t-SNE scatter of ground truth, UNet and GAN test images, crosses at the group centroids."""
    figure, axes = new_figure(1, 1, (5.5, 5))
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
