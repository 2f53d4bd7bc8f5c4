"""The command line as a user runs it: real files, real processes, what they would see."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import click
from click.testing import CliRunner

from archiver.cli import cli
from archiver.cli.group import COMMANDS

from .conftest import ROOT, SAMPLE
from .helpers import archiver


def test_footnotes_json_on_the_sample_directory(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    result = archiver("footnotes", "reports", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["report"] for r in data] == ["000_c1b9237a46e35f67"]
    report = data[0]
    assert report["path"] == "reports/000_c1b9237a46e35f67.txt"
    assert report["published"] == "2020-09-03"
    assert len(report["footnotes"]) == 32
    assert sum("missing" in f["problems"] for f in report["footnotes"]) == 12
    assert report["footnotes"][0] == {
        "n": 1,
        "text": "http://government(.)ru/news/40333/;",
        "urls": ["http://government.ru/news/40333/"],
        "problems": [],
    }
    assert report["footnotes"][3] == {"n": 4, "text": None, "urls": [], "problems": ["missing"]}
    assert len({u for f in report["footnotes"] for u in f["urls"]}) == 22


def test_footnotes_table_for_people() -> None:
    result = archiver("footnotes", str(SAMPLE))
    assert result.returncode == 0
    assert "000_c1b9237a46e35f67" in result.stdout
    assert "https://news.tut.by/society/698067.html" in result.stdout
    assert "missing" in result.stdout
    assert "32 footnotes, 28 links (22 distinct), 12 with problems" in result.stdout


def test_bad_files_are_reported_and_the_others_still_processed(tmp_path: Path) -> None:
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "empty_dir").mkdir()
    result = archiver(
        "footnotes",
        str(tmp_path / "nope.txt"),
        str(tmp_path / "binary.txt"),
        str(tmp_path / "empty_dir"),
        str(SAMPLE),
        "--json",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("archiver: error: ") for line in lines)
    assert "nope.txt: no such file or directory" in lines[0]
    assert "binary file" in lines[1]
    assert "no report files" in lines[2]
    assert [r["report"] for r in json.loads(result.stdout)] == ["000_c1b9237a46e35f67"]


def test_usage_error_exits_2() -> None:
    result = archiver("footnotes")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr


def test_python_dash_m_and_version() -> None:
    from archiver import __version__

    result = archiver("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"archiver, version {__version__}"
    assert __version__ == importlib.metadata.version("archiver")


def test_every_command_module_s_commands_are_named_for_loading_on_demand() -> None:
    """The group imports a command's module when the command runs: a command missing from its map
    would be invisible. Every module under archiver/cli that adds commands is imported here."""
    for module in sorted((ROOT / "archiver" / "cli").glob("*.py")):
        importlib.import_module(f"archiver.cli.{module.stem}")
    assert set(cli.commands) == set(COMMANDS)
    for name, module in COMMANDS.items():
        assert cli.commands[name].callback is not None
        assert cli.commands[name].callback.__module__ == f"archiver.cli.{module}", name


def test_every_command_has_help_and_a_readme_mention() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    runner = CliRunner()
    assert isinstance(cli, click.Group)
    for name in cli.list_commands(click.Context(cli)):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output
        assert f"archiver {name}" in readme, f"README does not mention `archiver {name}`"
