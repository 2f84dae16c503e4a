"""`keras-hdl evaluate`: a thin click parser over :func:`keras_hdl.evaluation.experiment.evaluate`."""

from __future__ import annotations

import shlex
from pathlib import Path

import click


def command_line(**options) -> str:
    """The `keras-hdl evaluate` command of these options (recorded in the report)."""
    parts = ["keras-hdl evaluate"]
    if options["experiment"] != "paper":
        parts.append(f"--experiment {options['experiment']}")
    parts.append(f"--preset {options['preset']}")
    if options.get("data") is not None:
        parts.append(f"--data {shlex.quote(str(options['data']))}")
    parts += [f"--runs {shlex.quote(str(run))}" for run in options.get("runs", ())]
    if options.get("k"):
        parts.append(f"--k {options['k']}")
    if options.get("train_missing"):
        parts.append("--train-missing")
    if options.get("epochs") is not None:
        parts.append(f"--epochs {options['epochs']}")
    parts += [f"--seed {options['seed']}", f"--out {shlex.quote(str(options['out_dir']))}"]
    return " ".join(parts)


@click.command(name="evaluate")
@click.option(
    "--experiment",
    type=click.Choice(["paper", "circles", "ablation"]),
    default="paper",
    show_default=True,
    help="paper: Tables I–III and Figs. 5, 8, 9, 10 on the test split; circles: the appendix UNet vs GAN experiment; "
    "ablation: the phase module's options on and off at one budget (--epochs, default 6), K = 0 twins' velocities.",
)
@click.option(
    "--preset", type=click.Choice(["tiny", "cpu", "paper"]), default="cpu", show_default=True, help="Model preset."
)
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
    if experiment == "circles":
        from keras_hdl.evaluation.circles import run_circles_experiment

        run_circles_experiment(out_dir, preset, seed)
        click.echo(f"circles experiment: {out_dir / 'report.md'}")
        return
    if experiment == "ablation":
        from keras_hdl.evaluation.ablation import DEFAULT_EPOCHS, run_ablation

        run_ablation(out_dir, preset, epochs or DEFAULT_EPOCHS, seed, data, train_missing)
        click.echo(f"ablation: {out_dir / 'ablation.md'}")
        return
    from keras_hdl.evaluation.experiment import EvaluationOptions, evaluate, parse_k_values

    options = EvaluationOptions(
        out_dir=out_dir,
        preset=preset,
        data=data,
        runs=tuple(runs),
        k_values=parse_k_values(k_text),
        train_missing=train_missing,
        epochs=epochs,
        seed=seed,
        command=command_line(
            experiment=experiment,
            preset=preset,
            data=data,
            runs=runs,
            k=k_text,
            train_missing=train_missing,
            epochs=epochs,
            seed=seed,
            out_dir=out_dir,
        ),
    )
    results = evaluate(options)
    for name in ("ours_vs_classical", "phase_ours_vs_vanilla", "pearson"):
        click.echo(results["answers"][name]["answer"])
