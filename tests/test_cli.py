"""The CLI skeleton: fast help, version, and clean errors."""

import os
import subprocess
import sys

import click
from click.testing import CliRunner

from keras_hdl import __version__
from keras_hdl.cli import COMMANDS, DEBUG_ENV, main


def test_help_lists_every_command_without_importing_tensorflow():
    code = (
        "import sys; from click.testing import CliRunner; from keras_hdl.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); print(r.output);"
        "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-ABSENT')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TF-ABSENT" in out
    for name in ("phantom", "train", "export", "synthesize", "assess", "evaluate", "demo"):
        assert name in out


def test_unbuilt_command_says_so_with_exit_code_2():
    unbuilt = [name for name, (module, _) in COMMANDS.items() if module is None]
    for name in unbuilt:
        result = CliRunner().invoke(main, [name, "--anything"])
        assert result.exit_code == 2 and "not available" in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_every_registered_command_resolves():
    group_context = click.Context(main, info_name="keras-hdl")
    for name in COMMANDS:
        assert main.get_command(group_context, name).name == name


BROKEN_ASSESS = (
    "import sys; import keras_hdl.assessment.files as assess; from keras_hdl.cli import main\n"
    "def broken(path):\n"
    "    raise RuntimeError('disk\\nsaid no')\n"
    "assess.read_slices = broken\n"
    "main(sys.argv[1:])\n"
)


def run_broken_assess(folder, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``keras-hdl ARGS assess scan.npz`` in a fresh interpreter whose series reader raises a RuntimeError (a bug)."""
    (folder / "scan.npz").touch()
    environment = {k: v for k, v in os.environ.items() if k != DEBUG_ENV} | (env or {})
    return subprocess.run(
        [sys.executable, "-c", BROKEN_ASSESS, *args, "assess", str(folder / "scan.npz")],
        capture_output=True,
        text=True,
        env=environment,
    )


def test_unexpected_error_is_one_line_naming_the_command_with_exit_code_1(tmp_path):
    result = run_broken_assess(tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr  # one line, newlines of the message folded
    assert result.stderr.startswith("Error: keras-hdl assess failed unexpectedly: RuntimeError: disk said no")
    assert "--debug" in result.stderr and f"{DEBUG_ENV}=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_flag_and_environment_variable_show_the_traceback(tmp_path):
    for result in (run_broken_assess(tmp_path, "--debug"), run_broken_assess(tmp_path, env={DEBUG_ENV: "1"})):
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert result.stderr.rstrip().endswith("RuntimeError: disk\nsaid no")
