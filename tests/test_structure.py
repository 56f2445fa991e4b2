"""Rules of the test tree itself, checked on the source (no test runs here):

- a module under tests/ imports shared test code from ``tests.support`` or from a helper module in
  its own directory; never from a ``test_*.py``, a ``conftest.py`` or another test directory;
- every test function checks something: an ``assert``, ``pytest.raises``/``warns``/``fail``, or a call
  to a helper (anywhere under tests/) that does one of those;
- no assertion is true whatever the code under test does: a truthy constant, a non-empty tuple or
  list (``assert (x, "message")``), an expression compared with itself, ``… or True``,
  ``isinstance(x, object)``, ``len(x) >= 0`` (:func:`always_true`);
- no test names a document or an issue tracker a reader of the repository cannot open.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

TESTS_ROOT: Final = Path(__file__).resolve().parent
SUPPORT_PACKAGE: Final = "tests.support"
CHECKING_PYTEST_CALLS: Final = frozenset({"raises", "warns", "fail", "deprecated_call"})
UNREADABLE_REFERENCE: Final = re.compile(r"DESIGN(\.md)?\s*§|DESIGN\.md|[Ii]ssue\s*#\d+|§\s*\d")


def python_files() -> list[Path]:
    return sorted(p for p in TESTS_ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    relative = path.relative_to(TESTS_ROOT.parent).with_suffix("")
    return ".".join(relative.parts)


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported_test_modules(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of every ``tests.*`` import, at any depth (imports inside functions count)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tests" or node.module.startswith("tests."):
                for alias in node.names:
                    module = f"tests.{alias.name}" if node.module == "tests" else node.module
                    yield node.lineno, module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tests."):
                    yield node.lineno, alias.name


def import_violation(importer: Path, module: str) -> str | None:
    if module == SUPPORT_PACKAGE or module.startswith(SUPPORT_PACKAGE + "."):
        return None
    package, _, leaf = module.rpartition(".")
    if leaf.startswith("test_") or leaf == "conftest":
        return f"imports {module}: shared code belongs in {SUPPORT_PACKAGE}"
    own_package = module_name(importer).rpartition(".")[0]
    if package != own_package:
        return f"imports {module} from another test directory: move it to {SUPPORT_PACKAGE}"
    return None


def test_no_test_module_imports_another_test_module_or_directory() -> None:
    problems = [
        f"{path.relative_to(TESTS_ROOT.parent)}:{line}: {problem}"
        for path in python_files()
        for line, module in imported_test_modules(parsed(path))
        if (problem := import_violation(path, module)) is not None
    ]
    assert problems == []


def test_the_import_rule_catches_what_it_is_for() -> None:
    importer = TESTS_ROOT / "relayer" / "test_metrics.py"
    assert import_violation(importer, "tests.support.database") is None
    assert import_violation(importer, "tests.relayer.test_ops") is not None
    assert import_violation(importer, "tests.relayer.conftest") is not None
    assert import_violation(importer, "tests.indexer.factory") is not None
    assert import_violation(TESTS_ROOT / "e2e" / "test_faults.py", "tests.e2e.checks") is None


def is_checking_call(call: ast.Call) -> bool:
    function = call.func
    return (
        isinstance(function, ast.Attribute)
        and function.attr in CHECKING_PYTEST_CALLS
        and isinstance(function.value, ast.Name)
        and function.value.id == "pytest"
    )


def called_names(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            if isinstance(inner.func, ast.Name):
                names.add(inner.func.id)
            elif isinstance(inner.func, ast.Attribute):
                names.add(inner.func.attr)
    return names


def checks_directly(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assert):
            return True
        if isinstance(inner, ast.Call) and is_checking_call(inner):
            return True
        if isinstance(inner, ast.Raise) and inner.exc is not None:
            raised = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
            if isinstance(raised, ast.Name) and raised.id == "AssertionError":
                return True
    return False


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def all_functions() -> list[FunctionNode]:
    return [
        node
        for path in python_files()
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def checking_helper_names(functions: list[FunctionNode] | None = None) -> set[str]:
    """Names of functions and methods under tests/ that check something, directly or through another.

    By name (a fixpoint over the call graph), and only when every definition of the name checks: a
    ``stop()`` that asserts in one helper class must not vouch for all the ``stop()`` calls elsewhere.
    """
    by_name: dict[str, list[FunctionNode]] = {}
    for function in all_functions() if functions is None else functions:
        by_name.setdefault(function.name, []).append(function)
    calls = {id(f): called_names(f) for definitions in by_name.values() for f in definitions}
    checking: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, definitions in by_name.items():
            if name in checking:
                continue
            if all(checks_directly(f) or calls[id(f)] & checking for f in definitions):
                checking.add(name)
                changed = True
    return checking


def unchecked_tests(checking: set[str]) -> list[str]:
    found = []
    for path in python_files():
        if not path.name.startswith("test_"):
            continue
        for node in ast.walk(parsed(path)):
            if not isinstance(node, FunctionNode) or not node.name.startswith("test_"):
                continue
            if not checks_directly(node) and not called_names(node) & checking:
                found.append(f"{path.relative_to(TESTS_ROOT.parent)}:{node.lineno}: {node.name}")
    return found


def test_every_test_checks_something() -> None:
    assert unchecked_tests(checking_helper_names()) == []


def test_the_assert_check_sees_a_test_without_a_check() -> None:
    source = """
class Server:
    def stop(self):
        assert self.process.wait() == 0
class Other:
    def stop(self):
        self.closed = True
def wait_up(url):
    assert probe(url)
def test_silent():
    Metrics().serve(0).stop()
def test_through_a_helper():
    wait_up("http://127.0.0.1:1")
def test_raises():
    with pytest.raises(ValueError):
        run()
"""
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, FunctionNode)]
    checking = checking_helper_names(nodes)
    assert "wait_up" in checking and "stop" not in checking  # one non-checking stop() is enough
    tests = {n.name: n for n in nodes if n.name.startswith("test_")}
    assert not checks_directly(tests["test_silent"]) and not called_names(tests["test_silent"]) & checking
    assert called_names(tests["test_through_a_helper"]) & checking
    assert checks_directly(tests["test_raises"])


def test_no_reference_to_documents_a_reader_cannot_open() -> None:
    offenders = [
        f"{path.relative_to(TESTS_ROOT.parent)}:{number}: {line.strip()}"
        for path in python_files()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if UNREADABLE_REFERENCE.search(line)
    ]
    assert offenders == []


PROJECT_REFERENCE: Final = re.compile(r"\bDESIGN(\.md)?\b|[Ii]ssue\s*#\d+")
"""Outside tests, section signs are fine (RFC 9380 §5.3, docs/protocol.md §3); a design document or an
issue number is not: a reader of the repository cannot open either."""
PROJECT_TEXT_SUFFIXES: Final = (".py", ".md", ".proto", ".sol", ".toml", ".mjs", ".html", ".js", ".css")


def test_production_code_and_docs_cite_only_what_the_repository_holds() -> None:
    root = TESTS_ROOT.parent
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\0")
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name in listed
        if name.endswith(PROJECT_TEXT_SUFFIXES) and not name.startswith("tests/")
        for number, line in enumerate((root / name).read_text(errors="replace").splitlines(), start=1)
        if PROJECT_REFERENCE.search(line)
    ]
    assert offenders == []


def always_true(test: ast.expr) -> bool:
    """Whether an ``assert``'s expression holds whatever it is evaluated against (syntactically)."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.Tuple | ast.List | ast.Set):
        return bool(test.elts)  # ``assert (x == 1, "message")``: a non-empty tuple is always true
    if isinstance(test, ast.Dict):
        return bool(test.keys)
    if isinstance(test, ast.BoolOp):
        outcomes = [always_true(value) for value in test.values]
        return any(outcomes) if isinstance(test.op, ast.Or) else all(outcomes)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, operator = ast.unparse(test.left), ast.unparse(test.comparators[0]), test.ops[0]
        if left == right and isinstance(operator, ast.Eq | ast.Is | ast.GtE | ast.LtE):
            return True
        if isinstance(operator, ast.GtE) and right == "0" and left.startswith("len("):
            return True
    if isinstance(test, ast.Call) and ast.unparse(test.func) == "isinstance" and len(test.args) == 2:
        return ast.unparse(test.args[1]) == "object"
    return False


def always_true_assertions(trees: list[tuple[str, ast.Module]]) -> list[str]:
    return [
        f"{name}:{node.lineno}: {ast.unparse(node)[:100]}"
        for name, tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and always_true(node.test)
    ]


def test_no_assertion_is_true_whatever_the_code_does() -> None:
    trees = [(str(path.relative_to(TESTS_ROOT.parent)), parsed(path)) for path in python_files()]
    assert always_true_assertions(trees) == []


def test_the_always_true_check_sees_what_it_is_for() -> None:
    source = """
def test_cases(x, items):
    assert True
    assert (x == 1, "x is one")
    assert x.total == x.total
    assert x == 1 or True
    assert isinstance(x, object)
    assert len(items) >= 0
    assert x == 1
    assert (x, items) == (1, [])
    assert x or items
    assert len(items) >= 1
    assert isinstance(x, int)
"""
    found = always_true_assertions([("case.py", ast.parse(source))])
    assert [line.split(":")[1] for line in found] == ["3", "4", "5", "6", "7", "8"]
