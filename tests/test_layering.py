"""The packages follow the data flow: the lower stages never reach up, and no two packages
import each other, spiders/ and scheduler.py included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO
from tests.test_layout import _cycle

LOWER = ("store", "stories", "text", "version")  # what a page is turned into, and kept as
UPPER = ("crawl", "run", "pipeline", "service")  # when, what and how a site is crawled


def _sources() -> dict[str, Path]:
    files = [*(REPO / "crawler").rglob("*.py"), *(REPO / "spiders").rglob("*.py")]
    files.append(REPO / "scheduler.py")
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in files
    }


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _unit(module: str) -> str:
    """The package a module belongs to (crawler.store.reads -> crawler.store); a top-level
    module (crawler.clock, scheduler) is a unit of its own."""
    parts = module.split(".")
    if parts[0] == "crawler" and len(parts) > 1 and (REPO / "crawler" / parts[1]).is_dir():
        return ".".join(parts[:2])
    if parts[0] == "spiders":
        return "spiders"
    return module


def _package_graph() -> dict[str, set[str]]:
    sources = _sources()
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        deps = {_unit(dep) for dep in _imports(path) if dep in sources}
        graph.setdefault(_unit(name), set()).update(deps - {_unit(name)})
    return graph


def test_lower_stages_import_nothing_from_the_upper_ones():
    sources = _sources()
    wrong = []
    for name, path in sources.items():
        if _unit(name).removeprefix("crawler.") not in LOWER:
            continue
        for dep in sorted(_imports(path)):
            if _unit(dep).removeprefix("crawler.") in UPPER:
                wrong.append(f"{name} imports {dep}")
    assert "crawler.store.articles" in sources and "crawler.text.extract" in sources
    assert not wrong, "\n".join(wrong)


def test_no_two_packages_import_each_other():
    graph = _package_graph()
    for package in (*LOWER, *UPPER, "cli", "maintenance"):
        assert f"crawler.{package}" in graph, package
    assert "spiders" in graph and "scheduler" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_each_package_says_what_it_is_for():
    for init in (REPO / "crawler").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and doc.strip(), f"{init.parent.name} has no one-line purpose"


def test_the_walk_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from crawler.run import lease\n")
    assert "crawler.run.lease" in _imports(source)
    assert _unit("crawler.run.lease") == "crawler.run" and _unit("crawler.clock") == "crawler.clock"


def test_the_tests_mirror_the_packages():
    """A package's tests live in tests/<package>/ (cross-cutting ones at the top)."""
    folders = [
        d
        for d in (REPO / "tests").iterdir()
        if d.is_dir() and d.name not in {"data", "__pycache__"}
    ]
    assert len(folders) >= 9
    for folder in folders:
        assert (REPO / "crawler" / folder.name / "__init__.py").exists(), folder.name
        assert (folder / "__init__.py").exists(), f"{folder.name}: tests.{folder.name} imports"
