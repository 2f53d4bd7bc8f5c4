"""The package's folders are the stages of the data flow, and dependencies between them run one way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "archiver"
STAGES = ("reading", "fetching", "storage", "judging", "webarchives", "showing")
FOLDERS = {*STAGES, "pipeline", "cli"}
TOP = {"__init__", "__main__", "config", "errors", "outcomes"}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "archiver"


def _imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every import of an archiver module inside the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archiver"):
                names = [
                    a.name for a in node.names if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").exists()
                ]
                targets = [node.module] if node.module != "archiver" else [f"archiver.{name}" for name in names]
                found += [(module, target) for target in targets]
            elif isinstance(node, ast.Import):
                found += [(module, a.name) for a in node.names if a.name.startswith("archiver")]
    return found


def test_ls_reads_as_the_flow() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert modules == TOP
    assert folders == FOLDERS
    for stage in FOLDERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and "Imports" in doc, f"{stage}/__init__.py must say its job and what it may import"


def test_dependencies_run_one_way() -> None:
    edges = _imports()
    stage_of = {(a, b): (_stage(a), _stage(b)) for a, b in edges}
    for (importer, imported), (source, target) in stage_of.items():
        if imported.startswith("archiver.pipeline"):  # the run is wired there; only the command line calls it
            assert importer.startswith(("archiver.cli", "archiver.pipeline")), (
                f"{importer} imports the pipeline: no stage may"
            )
        if imported.startswith("archiver.cli"):
            assert importer == "archiver.__main__" or importer.startswith("archiver.cli"), f"{importer} imports the CLI"
        if source == "reading":
            assert target in ("reading", "errors"), f"{importer} (reading) imports {imported}"
        if source == "judging":
            assert target != "fetching", f"{importer} (judging) imports {imported}"
        if source == "storage":
            assert target in ("storage", "errors", "outcomes", "archiver"), f"{importer} (storage) imports {imported}"
        if source == "outcomes":
            raise AssertionError(f"archiver.outcomes imports {imported}: it must stand alone")
    # No two stages depend on each other.
    pairs = {(s, t) for s, t in stage_of.values() if s != t}
    cycles = sorted((s, t) for s, t in pairs if (t, s) in pairs)
    assert cycles == [], f"stages that import each other: {cycles}"
