"""The import rule of docs/architecture.md: each layer imports only the layers below it.

Every module of the layered packages is read with ``ast`` (no import is executed): both
``import x`` and ``from x import y``, at any depth (inside functions, ``if TYPE_CHECKING:``
blocks, ``try`` blocks), relative imports resolved against the module's own package, and
``importlib.import_module("x")`` / ``__import__("x")`` with a literal name. An import of a
package on the module's own floor (other than its own package) or on a higher floor fails
the test, naming the file, the line, the module and the import.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Floor of every top-level package. A package imports only packages on a lower floor;
# packages on the same floor never import each other. benchmarks/ stands above everything.
FLOORS: dict[str, int] = {
    "warehouse": 1,
    "ingest": 2,
    "transforms": 2,
    "devkit": 2,
    "analysts": 2,
    "delivery": 2,
    "orchestration": 3,
    "benchmarks": 4,
}
NOT_LAYERED = frozenset({"tests"})  # test code may import any layer


@dataclass(frozen=True)
class Import:
    path: Path  # the file, relative to the root of the tree
    line: int
    module: str  # dotted name of the importing module
    imported: str  # absolute dotted name of what it imports

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    @property
    def target(self) -> str:
        return self.imported.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path.as_posix()}:{self.line}: {self.module} imports {self.imported}"


def module_name(path: Path) -> str:
    """``ingest/simulator/model.py`` -> ``ingest.simulator.model``; a package's ``__init__`` is the package."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """The absolute name of ``from <level dots><name> import ...`` in ``module``; None beyond the top package."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _literal_dynamic_import(node: ast.Call) -> str | None:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a string literal."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    """Every import of one file, with names made absolute."""
    relative = path.relative_to(root)
    module = module_name(relative)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(relative, node.lineno, module, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                yield Import(relative, node.lineno, module, node.module)
                continue
            resolved = resolve_relative(module, path.name == "__init__.py", node.level, node.module)
            dots = "." * node.level + (node.module or "")
            # Beyond the top package: only importable when the root itself is on sys.path as a
            # package, which it is not; report it under a name that can never be a package.
            yield Import(relative, node.lineno, module, resolved or f"<relative {dots} beyond {module}>")
        elif isinstance(node, ast.Call) and (name := _literal_dynamic_import(node)):
            yield Import(relative, node.lineno, module, name)


def package_imports(root: Path, packages: Mapping[str, int]) -> list[Import]:
    """Every import made by the modules of ``packages`` under ``root``, in file order."""
    found: list[Import] = []
    for package in sorted(packages):
        for path in sorted((root / package).rglob("*.py")):
            found.extend(imports_of(root, path))
    return found


def layer_violations(root: Path, floors: Mapping[str, int]) -> list[str]:
    """One line per import that breaks the rule: same floor (another package) or a higher floor."""
    problems = []
    for imp in package_imports(root, floors):
        if imp.imported.startswith("<relative"):
            problems.append(f"{imp}: a relative import that leaves its package")
            continue
        own, target = imp.package, imp.target
        if target == own or target not in floors:
            continue  # its own package, the standard library or a third-party package
        if floors[target] == floors[own]:
            problems.append(f"{imp}: {target}/ is on the same floor ({floors[own]}) as {own}/")
        elif floors[target] > floors[own]:
            problems.append(f"{imp}: {target}/ is on floor {floors[target]}, above {own}/ (floor {floors[own]})")
    return problems


def package_graph(root: Path, floors: Mapping[str, int]) -> dict[str, set[str]]:
    """Package -> the other layered packages it imports."""
    graph: dict[str, set[str]] = {package: set() for package in floors}
    for imp in package_imports(root, floors):
        if imp.target in floors and imp.target != imp.package:
            graph[imp.package].add(imp.target)
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each cycle of the package graph once, as a path that returns to its start (a, b, a)."""
    cycles: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                cycles.append([*path, start])
            elif nxt not in path and nxt > start:  # each cycle found from its smallest member only
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return cycles


# --- the real tree -------------------------------------------------------------------------


def test_every_package_module_keeps_to_its_floor() -> None:
    problems = layer_violations(ROOT, FLOORS)
    assert not problems, "imports that break the layer rule (docs/architecture.md):\n" + "\n".join(problems)


def test_no_import_cycle_between_packages() -> None:
    cycles = import_cycles(package_graph(ROOT, FLOORS))
    assert not cycles, "import cycles between packages: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_layered_package_is_read() -> None:
    """A renamed or emptied package must not make the rule pass by reading nothing."""
    for package in FLOORS:
        assert sorted((ROOT / package).rglob("*.py")), f"{package}/ holds no Python module"
    graph = package_graph(ROOT, FLOORS)
    assert "warehouse" in graph["orchestration"], "the reader found no imports at all"


def test_every_python_package_has_a_floor() -> None:
    """A new top-level package (or a Python file at the root of one) must be given a floor here."""
    python_dirs = {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.py"))
    }
    assert python_dirs - set(FLOORS) - NOT_LAYERED == set()
    installed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {pattern.rstrip("*") for pattern in installed["include"]} <= set(FLOORS)


def test_benchmarks_stand_above_everything() -> None:
    """benchmarks/ may import any package, and no package imports benchmarks/."""
    assert FLOORS["benchmarks"] > max(floor for package, floor in FLOORS.items() if package != "benchmarks")
    assert not any("benchmarks" in targets for targets in package_graph(ROOT, FLOORS).values())


# --- the checker on synthetic trees ---------------------------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in FLOORS:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


LEGAL = {
    "warehouse/settings.py": "import os\nfrom warehouse.errors import ConfigError\n",
    "warehouse/errors.py": "class ConfigError(Exception): ...\n",
    "ingest/consumer.py": "from warehouse.settings import load\nfrom . import writer\nfrom .writer import write\n",
    "ingest/writer.py": "import warehouse.errors\n",
    "devkit/simulator/produce.py": "from ..broker import spawn\nfrom .model import Model\n",
    "orchestration/cli.py": "def main():\n    from ingest.consumer import run\n    from analysts import report\n",
    "benchmarks/ingest.py": "import orchestration.cli\nfrom devkit.broker import spawn\nimport warehouse\n",
}


def test_checker_passes_a_legal_tree(tmp_path: Path) -> None:
    root = _tree(tmp_path, LEGAL)
    assert layer_violations(root, FLOORS) == []
    assert import_cycles(package_graph(root, FLOORS)) == []
    assert package_graph(root, FLOORS)["benchmarks"] == {"orchestration", "devkit", "warehouse"}


@pytest.mark.parametrize(
    ("path", "source", "line", "expected"),
    [
        # a higher floor, at module level
        ("warehouse/connection.py", "import ingest.writer\n", 1, "warehouse.connection imports ingest.writer"),
        # the same floor, with from-import
        ("ingest/spend.py", "x = 1\nfrom devkit.broker import spawn\n", 2, "ingest.spend imports devkit.broker"),
        # hidden inside a function and a class
        (
            "analysts/publish.py",
            "class P:\n    def run(self):\n        if True:\n            from orchestration import build\n",
            4,
            "analysts.publish imports orchestration",
        ),
        # a package's __init__
        ("transforms/__init__.py", "from analysts.sql import run\n", 1, "transforms imports analysts.sql"),
        # guarded by TYPE_CHECKING: still a dependency
        (
            "devkit/broker.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ingest.batch import Batch\n",
            3,
            "devkit.broker imports ingest.batch",
        ),
        # nothing may import benchmarks/
        ("orchestration/demo.py", "from benchmarks.build import main\n", 1, "orchestration.demo imports benchmarks"),
        # a literal dynamic import
        (
            "ingest/worker.py",
            "import importlib\nmod = importlib.import_module('orchestration.cli')\n",
            2,
            "ingest.worker imports orchestration.cli",
        ),
        # a relative import that climbs out of its package
        ("ingest/batch.py", "from ..devkit import broker\n", 1, "ingest.batch imports <relative ..devkit beyond"),
    ],
)
def test_checker_names_module_and_import_of_a_violation(
    tmp_path: Path, path: str, source: str, line: int, expected: str
) -> None:
    root = _tree(tmp_path, {**LEGAL, path: source})
    problems = layer_violations(root, FLOORS)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: {expected}")


def test_relative_imports_resolve_inside_their_package() -> None:
    assert resolve_relative("ingest.consumer", False, 1, "writer") == "ingest.writer"
    assert resolve_relative("ingest.consumer", False, 1, None) == "ingest"
    assert resolve_relative("devkit.simulator", True, 1, "model") == "devkit.simulator.model"
    assert resolve_relative("devkit.simulator.produce", False, 2, "broker") == "devkit.broker"
    assert resolve_relative("devkit.simulator.produce", False, 3, "warehouse") is None


def test_checker_finds_cycles(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "ingest/consumer.py": "import devkit.broker\n",
            "devkit/broker.py": "def f():\n    from ingest import consumer\n",
        },
    )
    assert len(layer_violations(root, FLOORS)) == 2  # each direction breaks the same-floor rule
    assert import_cycles(package_graph(root, FLOORS)) == [["devkit", "ingest", "devkit"]]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
