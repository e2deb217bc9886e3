"""The layout's rules: no import cycles, a torch-free core and SVM, argument parsing only in commands."""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("s3prl_crosscorpus", "baseline_svm")
#: Packages whose modules are argv front ends or scripts (they may parse arguments).
COMMAND_PACKAGES = ("s3prl_crosscorpus.commands", "s3prl_crosscorpus.benchmarks")
COMMAND_MODULES = ("baseline_svm.cli", "s3prl_crosscorpus.__main__")
#: package -> project packages it may import (PROTOCOL of the layout, docs/development.md "Layout").
ALLOWED = {
    "s3prl_crosscorpus.core": {"s3prl_crosscorpus.core"},
    "s3prl_crosscorpus.results": {"s3prl_crosscorpus.core", "s3prl_crosscorpus.results"},
    "s3prl_crosscorpus.submission": {"s3prl_crosscorpus.core", "s3prl_crosscorpus.results",
                                     "s3prl_crosscorpus.submission"},
    "s3prl_crosscorpus.augment": {"s3prl_crosscorpus.core", "s3prl_crosscorpus.augment"},
    "s3prl_crosscorpus.report": {"s3prl_crosscorpus.core", "s3prl_crosscorpus.results", "s3prl_crosscorpus.report"},
    "baseline_svm": {"s3prl_crosscorpus.core", "s3prl_crosscorpus.results", "s3prl_crosscorpus.augment",
                     "baseline_svm"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> Dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imported_modules(name: str, path: Path, known: Set[str]) -> Iterator[str]:
    """Project modules imported anywhere in the file (also inside functions), resolved to module names."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            # A module's own parent packages are initialised before it in any case: not an edge.
            if target and target != name and not name.startswith(target + "."):
                yield target


def import_graph() -> Dict[str, Set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: set(imported_modules(name, path, known)) for name, path in modules.items()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as a list of modules, or [] (iterative depth-first search)."""
    state: Dict[str, int] = {}
    for root in sorted(graph):
        if state.get(root):
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return []


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_project_modules():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def package_of(module: str) -> str:
    for package in sorted(ALLOWED, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return ""


def test_packages_import_only_what_the_layout_allows():
    broken = []
    for module, targets in import_graph().items():
        package = package_of(module)
        if not package:
            continue
        for target in targets - {"s3prl_crosscorpus"}:  # the root package holds only __version__
            if not any(target == a or target.startswith(a + ".") for a in ALLOWED[package]):
                broken.append(f"{module} imports {target}")
    assert not broken, "\n".join(broken)


def test_argument_parsing_only_in_command_modules():
    offenders = []
    for name, path in project_modules().items():
        if name.startswith(COMMAND_PACKAGES) or name in COMMAND_MODULES:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("ArgumentParser", "parse_args", "parse_known_args"):
                offenders.append(f"{name}:{node.lineno} uses {node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{name}:{node.lineno} prints")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("module", ["baseline_svm", "baseline_svm.run", "s3prl_crosscorpus.core",
                                    "s3prl_crosscorpus.core.manifest", "s3prl_crosscorpus.core.folds",
                                    "s3prl_crosscorpus.results.leaderboard", "s3prl_crosscorpus.submission.validate",
                                    "s3prl_crosscorpus.augment.plan", "baseline_svm.augmented"])
def test_core_and_svm_load_neither_torch_nor_s3prl(module):
    code = (f"import sys, {module}\n"
            "heavy = sorted(m for m in ('torch', 's3prl', 'torchaudio', 'transformers') if m in sys.modules)\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"importing {module} loads {out.stdout.strip()}"


def test_every_package_says_what_it_owns_and_may_import():
    for package in [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")]:
        doc = ast.get_docstring(ast.parse(package.read_text())) or ""
        if package.parent.name == "corpora":
            assert doc, package
            continue
        assert "import" in doc and len(doc) > 80, f"{package}: docstring must say what it owns and may import"


#: (module, function) of the one reader of each single-source table: nothing else may name the table.
SINGLE_READERS = {"CORPUS_DISPLAY": ("s3prl_crosscorpus.core.labels", "display_name")}


def table_uses(source: str, table: str, reader: str) -> List[int]:
    """Lines naming ``table`` (read, imported, defined or as an attribute) outside ``reader``'s body and, in the
    module that has ``reader``, the table's module-level definition."""
    tree = ast.parse(source)
    allowed = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == reader
               for n in ast.walk(f)}
    allowed |= {id(t) for node in tree.body if reader if isinstance(node, (ast.Assign, ast.AnnAssign))
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])}
    lines = []
    for node in ast.walk(tree):
        named = ((isinstance(node, ast.Name) and node.id == table)
                 or (isinstance(node, ast.Attribute) and node.attr == table)
                 or (isinstance(node, ast.alias) and node.name == table))
        if named and id(node) not in allowed:
            lines.append(node.lineno)
    return sorted(lines)


def test_table_use_finder_finds_a_planted_use():
    planted = ("from .labels import CORPUS_DISPLAY\n"
               "CORPUS_DISPLAY = {}\n"
               "def display_name(c):\n    return CORPUS_DISPLAY.get(c, c)\n"
               "def other(c):\n    return CORPUS_DISPLAY[c]\n")
    assert table_uses(planted, "CORPUS_DISPLAY", "display_name") == [1, 6]
    assert table_uses(planted, "CORPUS_DISPLAY", "") == [1, 2, 4, 6]  # a module that is not the owner


@pytest.mark.parametrize("table", sorted(SINGLE_READERS))
def test_single_source_tables_are_read_only_through_their_function(table):
    owner, reader = SINGLE_READERS[table]
    found = [f"{name}:{line}" for name, path in sorted(project_modules().items())
             for line in table_uses(path.read_text(), table, reader if name == owner else "")]
    assert not found, f"{table} is read outside {owner}.{reader} (call {reader}() instead): {', '.join(found)}"
