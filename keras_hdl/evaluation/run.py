"""Which evaluation `keras-hdl evaluate` runs: the paper's tables, the circles experiment or the ablation.

:func:`run_evaluation` is the command's one library call; :data:`EXPERIMENTS` its choices (TensorFlow-free).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

EXPERIMENTS = ("paper", "circles", "ablation")
DEFAULT_EXPERIMENT = "paper"


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


def run_evaluation(
    experiment: str,
    preset: str,
    data: Path | None,
    runs: tuple[Path, ...],
    k_text: str,
    train_missing: bool,
    epochs: int | None,
    seed: int,
    out_dir: Path,
    report: Callable[[str], object] = print,
) -> None:
    """Run ``experiment`` (one of :data:`EXPERIMENTS`) with the command's options; ``report`` gets the answers."""
    if experiment == "circles":
        from keras_hdl.evaluation.circles import run_circles_experiment

        run_circles_experiment(out_dir, preset, seed)
        report(f"circles experiment: {out_dir / 'report.md'}")
        return
    if experiment == "ablation":
        from keras_hdl.evaluation.ablation import DEFAULT_EPOCHS, run_ablation

        run_ablation(out_dir, preset, epochs or DEFAULT_EPOCHS, seed, data, train_missing)
        report(f"ablation: {out_dir / 'ablation.md'}")
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
        report(results["answers"][name]["answer"])
