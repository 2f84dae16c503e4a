"""`keras-hdl evaluate`: a thin click parser over :func:`keras_hdl.evaluation.run.run_evaluation`."""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.config import preset_names
from keras_hdl.evaluation.run import DEFAULT_EXPERIMENT, EXPERIMENTS


@click.command(name="evaluate")
@click.option(
    "--experiment",
    type=click.Choice(EXPERIMENTS),
    default=DEFAULT_EXPERIMENT,
    show_default=True,
    help="paper: Tables I–III and Figs. 5, 8, 9, 10 on the test split; circles: the appendix UNet vs GAN experiment; "
    "ablation: the phase module's options on and off at one budget (--epochs, default 6), K = 0 twins' velocities.",
)
@click.option("--preset", type=click.Choice(preset_names()), default="cpu", show_default=True, help="Model preset.")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Phantom dataset (its test split is evaluated)  [default: the built-in phantom].",
)
@click.option(
    "--runs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A run folder of `keras-hdl train` (or its models/); repeat for each variant (hdl, vanilla, gan), "
    "recognised by its model_info.json  [default: the shipped weights for hdl with --preset cpu].",
)
@click.option(
    "--k",
    "k_text",
    default="1,2,3,4,5,6",
    show_default=True,
    help="K values (frames dropped) of the interpolation table.",
)
@click.option(
    "--train-missing",
    is_flag=True,
    help="Train every variant without a run with the preset (built-in phantom: cached in $KERAS_HDL_CACHE/runs/; "
    "other data: OUT/runs/).",
)
@click.option(
    "--epochs", type=int, default=None, help="Epochs per module for --train-missing  [default: the preset's]."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training and synthesised noise.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("evaluation"),
    show_default=True,
    help="Output folder: report.md, results.json, figures/.",
)
def command(experiment, preset, data, runs, k_text, train_missing, epochs, seed, out_dir) -> None:
    """Run the paper's experiments on held-out phantom subjects and write a report.

    Compares linear, Horn–Schunck, vanilla R2UNet, GAN and HDL interpolation for each K,
    vanilla pix2pix and HDL phase synthesis at K = 0, 3, 6, and the velocity markers and
    curve correlations of HDL twins at K = 0, 3, 6. Methods without a run are listed as
    not evaluated (pass --runs or --train-missing).
    """
    from keras_hdl.evaluation.run import run_evaluation

    run_evaluation(experiment, preset, data, tuple(runs), k_text, train_missing, epochs, seed, out_dir, click.echo)
