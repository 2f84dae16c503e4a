"""report.md and results.json of an evaluation: every table rendered from the one results dict.

:func:`answers` computes the answers to the issue's questions from the numbers (does ours
beat linear and Horn–Schunck as K grows; is ours better than vanilla pix2pix; the Pearson
correlation of twin curves), so the report never states a finding the numbers do not hold.
"""

from __future__ import annotations

from pathlib import Path

from keras_hdl.assessment import COMPONENT_NAMES
from keras_hdl.assessment.agreement import AGREEMENT_NAMES
from keras_hdl.evaluation.interpolation import LOWER_IS_BETTER
from keras_hdl.evaluation.variants import variant_table
from keras_hdl.evaluation.velocity import MARKERS, REAL, TRUTH, twin_label
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.markdown import markdown_table

REPORT_FILE, RESULTS_FILE = "report.md", "results.json"
METRIC_HEADERS = {
    "MSE": "MSE",
    "MSE_W1": "MSE_W1",
    "MSE_W2": "MSE_W2",
    "PSNR_dB": "PSNR (dB)",
    "PSNR_paper_dB": "PSNR paper-compatible (dB)",
    "SSIM": "SSIM",
    "DICE": "DICE",
}
CLASSICAL = ("linear", "horn_schunck")
KEY_METRICS = ("MSE_W1", "MSE_W2", "SSIM", "DICE")
PHASE_QUESTION_METRICS = ("MSE", "MSE_W2")
PAPER_PEARSON = {0: 0.99, 3: 0.92, 6: 0.48}
NOT_EVALUATED = "not evaluated"


def number(value: float | None, digits: int = 4) -> str:
    """A table cell: ``digits`` significant digits, ``n/a`` for a missing value."""
    return "n/a" if value is None else f"{value:.{digits}g}"


def mean_std(summary: dict) -> str:
    """``mean (std)`` of a summary, as every table shows it."""
    return f"{number(summary['mean'])} ({number(summary['std'], 2)})"


def _mean(table: dict, method: str, k: int, metric: str) -> float | None:
    entry = table["values"].get(method, {}).get(str(k))
    return None if entry is None else entry[metric]["mean"]


def _better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _ks(ks: list[int]) -> str:
    return ", ".join(str(k) for k in ks)


def _at_ks(ks: list[int]) -> str:
    """``at K = 1, 3`` or ``at no K``."""
    return f"at K = {_ks(ks)}" if ks else "at no K"


# ------------------------------------------------------------------ answers
def _classical_answer(results: dict) -> dict:
    table, labels = results["interpolation"], results["methods"]
    ks = table["k"]
    if "hdl" not in table["values"]:
        return {"answer": f"{NOT_EVALUATED}: no HDL interpolator ({results['not_evaluated'].get('hdl', '')})"}
    found = {}
    for metric in KEY_METRICS:
        ours = [_mean(table, "hdl", k, metric) for k in ks]
        lower = metric in LOWER_IS_BETTER
        entry = {"k": ks, "ours": ours}
        sentences = []
        for method in CLASSICAL:
            theirs = [_mean(table, method, k, metric) for k in ks]
            wins = [k for k, a, b in zip(ks, ours, theirs, strict=True) if None not in (a, b) and _better(metric, a, b)]
            entry[method] = theirs
            entry[f"ours_better_than_{method}_at_k"] = wins
            sentences.append(f"better than {labels[method]} {_at_ks(wins)} (of K = {_ks(ks)})")
        # advantage over the better classical method at each K: positive = ours better
        best = [
            None if None in pair else (min(pair) if lower else max(pair))
            for pair in zip(*(entry[m] for m in CLASSICAL), strict=True)
        ]
        advantage = [None if None in (o, b) else (b - o if lower else o - b) for o, b in zip(ours, best, strict=True)]
        entry["advantage_over_best_classical"] = advantage
        trend = ""
        if len(ks) > 1 and None not in (advantage[0], advantage[-1]):
            direction = "grows" if advantage[-1] > advantage[0] else "falls"
            trend = (
                f"; its margin over the better classical method (positive = ours better) {direction} from "
                f"{number(advantage[0])} at K = {ks[0]} to {number(advantage[-1])} at K = {ks[-1]}"
            )
        entry["answer"] = f"{metric}: ours is " + " and ".join(sentences) + trend + "."
        found[metric] = entry
    largest = ks[-1]
    both = [
        m
        for m in KEY_METRICS
        if largest in found[m]["ours_better_than_linear_at_k"]
        and largest in found[m]["ours_better_than_horn_schunck_at_k"]
    ]
    found["answer"] = (
        f"At the largest K ({largest}) ours beats both linear and Horn–Schunck on {len(both)} of "
        f"{len(KEY_METRICS)} metrics ({', '.join(both) or 'none'})."
    )
    return found


def _phase_answer(results: dict) -> dict:
    table = results["phase"]
    values = table["values"]
    if "hdl" not in values or "vanilla" not in values:
        missing = [m for m in ("hdl", "vanilla") if m not in values]
        reasons = "; ".join(f"{m}: {results['not_evaluated'].get('phase:' + m, '')}" for m in missing)
        return {"answer": f"{NOT_EVALUATED}: {reasons}"}
    found, sentences = {}, []
    for metric in PHASE_QUESTION_METRICS:
        rows = {}
        for k in table["k"]:
            ours, vanilla = _mean(table, "hdl", k, metric), _mean(table, "vanilla", k, metric)
            if None in (ours, vanilla):
                continue
            rows[str(k)] = {"ours": ours, "vanilla": vanilla, "ours_better": _better(metric, ours, vanilla)}
        wins = [int(k) for k, row in rows.items() if row["ours_better"]]
        shown = ", ".join(f"K = {k}: {number(r['ours'])} vs {number(r['vanilla'])}" for k, r in rows.items())
        sentences.append(f"{metric}: ours is lower {_at_ks(wins)} of K = {_ks([int(k) for k in rows])} ({shown})")
        found[metric] = rows
    found["answer"] = "Ours vs vanilla pix2pix — " + "; ".join(sentences) + "."
    return found


def _pearson_answer(results: dict) -> dict:
    velocity = results.get("velocity")
    if velocity is None:
        return {"answer": f"{NOT_EVALUATED}: {results['not_evaluated'].get('velocity', '')}"}
    found, parts = {}, []
    for k in velocity["k"]:
        label = twin_label(k)
        if label not in velocity["pearson_vs_real"]:
            parts.append(f"K = {k}: {NOT_EVALUATED} ({velocity['not_evaluated'].get(label, '')})")
            continue
        vs_real = velocity["pearson_vs_real"][label]["overall"]["mean"]
        vs_truth = velocity["pearson_vs_truth"].get(label, {}).get("overall", {}).get("mean")
        found[str(k)] = {"vs_real": vs_real, "vs_truth": vs_truth, "paper": PAPER_PEARSON.get(k)}
        parts.append(
            f"K = {k}: {number(vs_real, 3)} against real (paper {PAPER_PEARSON.get(k, 'n/a')}), "
            f"{number(vs_truth, 3)} against the analytic truth"
        )
    real_truth = velocity["pearson_vs_truth"].get(REAL, {}).get("overall", {}).get("mean")
    found["real_vs_truth"] = real_truth
    found["answer"] = (
        "Pearson correlation of the twins' global curves (overall, mean over test slices): "
        + "; ".join(parts)
        + f". The real phase itself correlates {number(real_truth, 3)} with the truth."
    )
    return found


def _gan_answer(results: dict) -> dict:
    table = results["interpolation"]
    if "hdl" not in table["values"] or "gan" not in table["values"]:
        return {"answer": f"{NOT_EVALUATED}: {results['not_evaluated'].get('gan', 'no HDL interpolator')}"}
    pairs = [
        (m, k)
        for m in table["metrics"]
        for k in table["k"]
        if None not in (_mean(table, "hdl", k, m), _mean(table, "gan", k, m))
    ]
    wins = sum(_better(m, _mean(table, "hdl", k, m), _mean(table, "gan", k, m)) for m, k in pairs)
    return {
        "ours_better": wins,
        "compared": len(pairs),
        "answer": f"Ours vs the GAN temporal model (Table III): ours is better on {wins} of {len(pairs)} "
        "(metric, K) pairs.",
    }


def answers(results: dict) -> dict:
    """The issue's questions answered from the numbers in ``results`` (see the module docstring)."""
    return {
        "ours_vs_classical": _classical_answer(results),
        "ours_vs_gan": _gan_answer(results),
        "phase_ours_vs_vanilla": _phase_answer(results),
        "pearson": _pearson_answer(results),
    }


# ------------------------------------------------------------------ tables
def metric_table(table: dict, labels: dict) -> list[str]:
    """One row per (K, evaluated method): mean (std) of each metric over the images."""
    header = ["K", "method", *(METRIC_HEADERS[m] for m in table["metrics"]), "images"]
    rows = []
    for k in table["k"]:
        for method, by_k in table["values"].items():
            entry = by_k[str(k)]
            first = next(iter(entry.values()))
            rows.append([k, labels[method], *(mean_std(entry[m]) for m in table["metrics"]), first["n"]])
    return markdown_table(header, rows)


def marker_table(velocity: dict) -> list[str]:
    header = ["component", "marker (unit)", *velocity["columns"]]
    rows = []
    for component in COMPONENT_NAMES:
        for marker in MARKERS:
            cells = [mean_std(velocity["markers"][column][component][marker]) for column in velocity["columns"]]
            rows.append([component, f"{marker.upper()} ({velocity['units'][marker]})", *cells])
    return markdown_table(header, rows)


def pearson_table(velocity: dict) -> list[str]:
    header = ["curves", "against", *AGREEMENT_NAMES]
    rows = []
    for against, entries in (("real", velocity["pearson_vs_real"]), ("truth", velocity["pearson_vs_truth"])):
        for label, entry in entries.items():
            rows.append([label, against, *(mean_std(entry[name]) for name in AGREEMENT_NAMES)])
    return markdown_table(header, rows)


def _method_name(key: str, results: dict) -> str:
    """The report's name of a ``not_evaluated`` key: an interpolation method, ``phase:<method>`` or a table."""
    if key in results["methods"]:
        return f"{results['methods'][key]} (interpolation)"
    if key.startswith("phase:"):
        return f"{results['phase_methods'][key.removeprefix('phase:')]} (phase)"
    return key


def _not_evaluated_lines(results: dict, keys: list[str], labels: dict) -> list[str]:
    """``- method: not evaluated: reason`` for the keys without results, then a blank line (nothing if none)."""
    reasons = results["not_evaluated"]
    lines = [f"- {labels[key.split(':')[-1]]}: {NOT_EVALUATED}: {reasons[key]}" for key in keys if key in reasons]
    return [*lines, ""] if lines else []


def render_report(results: dict) -> str:
    """report.md from the results dict (tables, figures, runs, data and the answers)."""
    labels, phase_labels = results["methods"], results["phase_methods"]
    lines = [
        "# keras-hdl evaluation: the paper's experiments on held-out phantom subjects",
        "",
        f"Produced by `{results['command']}` (keras-hdl {results['keras_hdl_version']}); rerunning it gives the "
        "same results.json (same seed, same runs). Every table and answer below is rendered from results.json.",
        "",
        "## Setup",
        "",
        f"- Command: `{results['command']}`",
        f"- Preset: `{results['preset']}`; seed: {results['seed']} (background noise of the synthesised phase)",
        f"- Data: {results['data']['description']}",
        f"- Region: {results['crop']['region']}",
        "",
        "Runs (networks per variant):",
        "",
        *markdown_table(
            ["variant", "networks", "origin", "models folder", "trained by"],
            [
                [v, ", ".join(r["networks"]), r["origin"], f"`{r['models']}`", f"`{r['command']}`"]
                for v, r in results["runs"].items()
            ],
        ),
        "",
    ]
    if results["not_evaluated"]:
        lines += ["Not evaluated:", ""]
        for key, reason in results["not_evaluated"].items():
            lines.append(f"- {_method_name(key, results)}: {NOT_EVALUATED}: {reason}")
        lines.append("")
    found = results["answers"]
    lines += [
        "## Answers (computed from the numbers below)",
        "",
        f"- **Ours vs linear and Horn–Schunck as K grows (Fig. 10).** {found['ours_vs_classical']['answer']}",
    ]
    for metric in KEY_METRICS:
        if metric in found["ours_vs_classical"]:
            lines.append(f"  - {found['ours_vs_classical'][metric]['answer']}")
    lines += [
        f"- **Ours vs vanilla pix2pix (Table I).** {found['phase_ours_vs_vanilla']['answer']}",
        f"- **Pearson correlation of twin curves (paper: 0.99 / 0.92 / 0.48 for K = 0 / 3 / 6).** "
        f"{found['pearson']['answer']}",
        f"- **Ours vs GAN (Table III).** {found['ours_vs_gan']['answer']}",
        "",
        "## Interpolation (paper Table III, Fig. 10)",
        "",
        "Mean (std) over every dropped frame of every test slice; MSE, MSE_W1, MSE_W2 on [−1, 1] images.",
        "",
        *metric_table(results["interpolation"], labels),
        "",
        *_not_evaluated_lines(results, ["vanilla", "gan", "hdl"], labels),
        "## Phase synthesis (paper Table I)",
        "",
        "Mean (std) over every frame and direction (x, y, z) of every test slice; the phase networks see the real "
        "magnitude at K = 0 and the HDL twin's magnitude at K > 0. MSE_W1 = myocardium, MSE_W2 = foreground.",
        "",
        *metric_table(results["phase"], phase_labels),
        "",
        *_not_evaluated_lines(results, ["phase:vanilla", "phase:hdl"], phase_labels),
        "## Velocity assessment (paper Table II)",
        "",
    ]
    velocity = results.get("velocity")
    if velocity is None:
        lines += [f"{NOT_EVALUATED}: {results['not_evaluated'].get('velocity', '')}", ""]
    else:
        lines += [
            f"Global curves of every test slice; mean (std) over {results['data']['slices']} test slices. "
            f"`{TRUTH}` = the phantom's analytic curves, `{REAL}` = the real phase, `K=k` = the HDL twin of the "
            "acquisition with k frames dropped (its own masks at dropped frames). Velocities in mm/s, peak times in "
            "frames normalised to 50 per cycle.",
            "",
            *marker_table(velocity),
            "",
            "Pearson correlation of each slice's curves, per component and overall (the three concatenated); "
            "mean (std) over test slices:",
            "",
            *pearson_table(velocity),
            "",
        ]
        for label, reason in velocity["not_evaluated"].items():
            lines.append(f"- {label}: {NOT_EVALUATED}: {reason}")
        if "variants" in velocity:
            lines += [
                "",
                "### Per acquisition variant",
                "",
                "The test scans grouped by pixel spacing, frames per cycle and SNR band (each scan's acquisition in "
                "the dataset's manifest); each row pools that band's slices against the analytic truth: the real "
                "phase (how hard the acquisition is) and the HDL twins (what the twin loses on top). Relative PSV "
                "error = |PSV - true PSV| / |true PSV|, mean over slices.",
                "",
                *variant_table(velocity["variants"]),
                "",
            ]
    lines += ["## Figures", ""]
    for name, caption in results["figures"].items():
        lines += [f"**{caption}**", "", f"![{caption}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"


FURTHER_RESULTS = {
    "fidelity.md": "the twin-fidelity targets, what is met and what limits the rest",
    "ablation.md": "the phase module's options on and off at one budget (`keras-hdl evaluate --experiment ablation`)",
    "normalisation.md": "why one batch norm per recurrent step",
}
"""Documents beside report.md that it links to when they exist."""


def write_outputs(results: dict, out_dir: Path) -> dict[str, Path]:
    """Write results.json and report.md into ``out_dir`` atomically; returns their paths."""
    paths = {"results": out_dir / RESULTS_FILE, "report": out_dir / REPORT_FILE}
    write_json(paths["results"], results, indent=1, allow_nan=False)
    further = [f"- [{name}]({name}): {what}" for name, what in FURTHER_RESULTS.items() if (out_dir / name).is_file()]
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(
            render_report(results) + ("\n## Further results\n\n" + "\n".join(further) + "\n" if further else "")
        )
    return paths
