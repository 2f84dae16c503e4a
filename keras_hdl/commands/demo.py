"""``keras-hdl demo``: a thin parser over :func:`keras_hdl.demo.run_demo`."""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for everything the demo writes (its own previous output there is replaced).",
)
def command(out_dir: str) -> None:
    """Run the whole story on the built-in phantom: generate → train briefly → synthesize a K = 6 twin → assess."""
    from keras_hdl.demo import run_demo

    run_demo(out_dir, report=click.echo)
