"""One direction of imports: the library (series, DICOM, geometry, models, assessment, synthesis, …) never
imports the training package; only what trains does (docs/design.md §5.1).

Two checks: every ``import`` of ``keras_hdl.training`` in the library's source (also those inside
functions) stands in a module of :data:`TRAINS`; and importing the inference modules in a fresh
process loads no training module, not even indirectly.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINS = {
    "keras_hdl.commands.train",  # `keras-hdl train` and `prepare` parse their options and call training
    "keras_hdl.commands.prepare",
    "keras_hdl.demo",  # the demo trains the tiny preset
    "keras_hdl.evaluation.runs",  # evaluate --train-missing trains the missing baselines
    "keras_hdl.evaluation.ablation",
    "keras_hdl.evaluation.circles",  # the appendix experiment trains its UNet and GAN
    "keras_hdl.benchmarks.models",  # benchmarks time the training steps
    "keras_hdl.benchmarks.pipeline",
    "keras_hdl.benchmarks.training",
}
INFERENCE = [
    "keras_hdl.cli",
    "keras_hdl.series",
    "keras_hdl.dicom",
    "keras_hdl.geometry",
    "keras_hdl.metrics",
    "keras_hdl.losses",
    "keras_hdl.models",
    "keras_hdl.model_store",
    "keras_hdl.interpolation.linear",
    "keras_hdl.interpolation.optical_flow",
    "keras_hdl.interpolation.network",
    "keras_hdl.assessment",
    "keras_hdl.segmentation",
    "keras_hdl.phantom.dataset",
    "keras_hdl.synthesis",
    "keras_hdl.synthesis.writer",
    "keras_hdl.evaluation.experiment",
    "keras_hdl.evaluation.report",
    "keras_hdl.commands.assess",
    "keras_hdl.commands.synthesize",
    "keras_hdl.commands.segment",
    "keras_hdl.commands.phantom",
    "keras_hdl.commands.export",
    "keras_hdl.export.savedmodel",
    "keras_hdl.export.serving",
    "keras_hdl.export.tflite",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "export":
        parts = ["keras_hdl", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_only_what_trains_imports_the_training_package():
    offenders = {}
    for path in sorted([*(ROOT / "keras_hdl").rglob("*.py"), *(ROOT / "export").rglob("*.py")]):
        imports = imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        training = sorted(
            name for name in imports if name == "keras_hdl.training" or name.startswith("keras_hdl.training.")
        )
        if training and module_name(path) not in TRAINS:
            offenders[module_name(path)] = training
    assert not offenders, f"library modules that import training: {offenders}"


def test_inference_modules_load_no_training_module():
    code = (
        "import importlib, json, sys\n"
        f"for name in {INFERENCE!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('keras_hdl.training'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
