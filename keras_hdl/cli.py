"""The ``keras-hdl`` command line.

Each command lives in its own module under :mod:`keras_hdl.commands` and is
imported only when it runs, so ``keras-hdl --help`` never imports TensorFlow.
Commands are thin click parsers over plain library functions that tests call
directly. Bad input raised as :class:`keras_hdl.errors.InputError` anywhere below
becomes a one-line message and exit code 2, never a traceback. Any other exception is
a bug or a broken environment: one line naming the command and the error, exit code 1;
``keras-hdl --debug …`` (or ``KERAS_HDL_DEBUG=1``) shows its traceback instead.
"""

from __future__ import annotations

import importlib
import os

import click

from keras_hdl import __version__
from keras_hdl.errors import InputError

# name → (module under keras_hdl.commands, or None while the command is not built yet;
#          one-line help shown by `keras-hdl --help`)
COMMANDS: dict[str, tuple[str | None, str]] = {
    "demo": ("demo", "Run the whole story on the built-in phantom."),
    "phantom": ("phantom", "Generate a phantom 3Dir MVM dataset with known velocities."),
    "prepare": ("prepare", "Write TFRecord training shards from a phantom dataset or folder of scans."),
    "train": ("train", "Train the interpolator and/or the phase synthesis model."),
    "export": ("export", "Export trained models for TensorFlow Serving and TFLite."),
    "synthesize": ("synthesize", "Make a synthetic digital twin from a low-frame-rate magnitude series."),
    "assess": ("assess", "Assess myocardial velocities of a series (DICOM or .npz)."),
    "segment": ("segment", "Segment the LV myocardium of a series automatically (DICOM SEG out)."),
    "benchmark": ("benchmark", "Time training, pipeline, inference and assessment against peak and baselines."),
    "evaluate": ("evaluate", "Run the paper's experiments on held-out phantom subjects."),
}


DEBUG_ENV = "KERAS_HDL_DEBUG"
"""Environment variable that, set to 1, lets unexpected exceptions show their traceback (like ``--debug``)."""

TUNED_ALLOCATOR_COMMANDS = ("demo", "train", "synthesize", "evaluate", "benchmark")
"""Commands that move large tensors: glibc's allocator is tuned before they load (keras_hdl.runtime)."""


class UserInputError(click.ClickException):
    """A click error for bad input: prints ``Error: <message>`` and exits with code 2."""

    exit_code = 2


class UnexpectedError(click.ClickException):
    """An exception that is not bad input: prints ``Error: <one line>`` and exits with code 1."""

    exit_code = 1


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _debug_requested(ctx: click.Context) -> bool:
    """True when ``--debug`` was given or :data:`DEBUG_ENV` is set to a non-empty value other than 0."""
    return bool((ctx.params or {}).get("debug")) or os.environ.get(DEBUG_ENV, "0") not in ("", "0")


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[cmd_name]
        if module_name is None:
            return _not_built_yet(cmd_name, short_help)
        if cmd_name in TUNED_ALLOCATOR_COMMANDS:
            from keras_hdl.runtime import tune_allocator

            tune_allocator()  # before the command's module imports TensorFlow
        return importlib.import_module(f"keras_hdl.commands.{module_name}").command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from :data:`COMMANDS` without importing their modules."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help) for name, (_, short_help) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as err:
            raise UserInputError(" ".join(str(err).splitlines())) from err
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:
            if _debug_requested(ctx):
                raise
            command = ctx.invoked_subcommand or "(no command)"
            raise UnexpectedError(
                f"keras-hdl {command} failed unexpectedly: {_one_line(err)} (a bug or a broken environment; "
                f"run again with `keras-hdl --debug {command} …` or {DEBUG_ENV}=1 for the traceback)"
            ) from err


def _not_built_yet(name: str, short_help: str) -> click.Command:
    """A command that exists in the CLI's plan but not in this version: says so and exits 2."""

    def refuse(**_: object) -> None:
        raise UserInputError(f"`keras-hdl {name}` is not available in keras-hdl {__version__} yet")

    return click.Command(
        name,
        callback=refuse,
        help=f"{short_help} (not available in this version yet)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keras-hdl")
@click.option("--debug", is_flag=True, help=f"Show the full traceback of an unexpected error (or set {DEBUG_ENV}=1).")
def main(debug: bool) -> None:
    """keras-hdl: synthetic digital twins of 3Dir myocardial velocity mapping MRI.

    \b
    Start with `keras-hdl demo`, or generate data with `keras-hdl phantom OUT_DIR`.
    Units: velocities in mm/s in reports, cm/s for venc; times in frames (normalised
    to 50) and ms.
    """
