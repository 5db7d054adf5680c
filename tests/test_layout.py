"""The package's layout follows the data flow: no module imports back into one that imports it."""

from __future__ import annotations

import ast

from tests.helpers import REPO


def _import_graph() -> dict[str, set[str]]:
    """crawler's modules and the crawler modules each imports, imports inside functions too."""
    root = REPO / "crawler"
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crawler"):
                found.add(node.module or "")
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("crawler")}
        graph[name] = {dep for dep in found if dep in modules and dep != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [node, dep]
            if dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_module_imports_back_into_one_that_imports_it():
    graph = _import_graph()
    assert "crawler.cli.main" in graph and "crawler.cli.inspect" in graph  # the walk found them
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    # the command line is one package; importing any of its modules runs its __init__, which
    # imports nothing, so a command module cannot reach the command line back through it
    assert graph["crawler.cli"] == set()
    for name in ("crawler.cli.inspect", "crawler.cli.cluster"):
        assert "crawler.cli.main" not in graph[name], name
    # the service shares the store session with the command line, not the command line itself
    assert not {dep for dep in graph["crawler.service.app"] if dep.startswith("crawler.cli")}


def test_each_stage_is_a_package_or_module_of_its_own():
    """The data flow is visible in the layout: the store and the story index are packages
    whose modules each hold one concern."""
    graph = _import_graph()
    for module in ("connection", "indexes", "writes", "versions", "articles"):
        assert f"crawler.store.{module}" in graph
    for module in ("shingles", "index", "placement", "changes"):
        assert f"crawler.stories.{module}" in graph
    # the story verification is plain computation: no database, no store
    assert not {d for d in graph["crawler.stories.placement"] if d.startswith("crawler.store")}


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
