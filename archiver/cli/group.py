"""The `archiver` command group, whose commands' modules load when a command runs."""

from __future__ import annotations

import importlib

import click

from archiver import __version__

# Each command's module under archiver.cli, imported when the command runs (or a help lists it): a
# nightly `archiver run` loads the night's modules, not the exports', the feeds' or the migration's
# (docs/benchmarks.md). tests/test_cli.py checks that every module's commands are named here.
COMMANDS = {
    "check": "lookups",
    "dashboard": "exports",
    "export": "exports",
    "feeds": "feeding",
    "footnotes": "reading",
    "forget-worker": "moving",
    "migrate": "moving",
    "notify": "notifying",
    "run": "night",
    "search": "searching",
    "status": "lookups",
}


class _CommandsOnDemand(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | COMMANDS.keys())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"archiver.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=_CommandsOnDemand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """Archive the web sources cited in research reports' footnotes, and watch them."""
