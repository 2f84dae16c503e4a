"""The CLI skeleton: fast help, version, and clean errors."""

import subprocess
import sys

import click
from click.testing import CliRunner

from keras_hdl import __version__
from keras_hdl.cli import COMMANDS, main


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
