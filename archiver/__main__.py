"""`python -m archiver`, and the `archiver` command (pyproject's script names main here).

The command's script imports only this module: multiprocessing runs the main script again in
every worker process it starts (as `__mp_main__`), so a script that imported archiver.cli made
each extraction worker load the command line (click, rich, every stage: 0.12-0.17 s of CPU a
worker) for nothing. Here the command line loads when main() runs, in the run's own process.
"""

from __future__ import annotations


def main() -> None:
    """The `archiver` command."""
    from archiver.cli import main as run_command_line

    run_command_line()


if __name__ == "__main__":
    main()
