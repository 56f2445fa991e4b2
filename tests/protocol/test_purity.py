"""relayer.protocol stays pure: it imports no IO, clock or randomness module and no other exorelay package.

Checked on the source (AST), so a new module that breaks the rule fails here before review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import relayer.protocol

PACKAGE = Path(relayer.protocol.__file__).parent

# Standard-library and third-party top-level modules the pure layer may import. threading and
# concurrent are the fast BLS backend's parse threads (CPU only); uuid is used to parse and format.
ALLOWED_TOP_LEVEL = {
    "__future__",
    "abc",
    "collections",
    "concurrent",
    "dataclasses",
    "enum",
    "fractions",
    "functools",
    "hashlib",
    "hmac",
    "importlib",
    "itertools",
    "json",
    "re",
    "threading",
    "typing",
    "unicodedata",
    "uuid",
    "Crypto",
    "blspy",
    "eth_abi",
    "eth_typing",
    "eth_utils",
    "py_ecc",
    "relayer",
}
ALLOWED_EXORELAY = ("relayer.protocol", "relayer.errors")
# Calls that would draw randomness or read the clock even through an allowed module.
FORBIDDEN_ATTRIBUTES = {"uuid1", "uuid4", "urandom", "token_bytes", "randbits", "time", "now", "utcnow"}


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names.append(node.module)
    return names


def test_protocol_imports_only_pure_modules() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20  # the walk found the package
    problems = []
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for name in _imports(tree):
            top = name.split(".")[0]
            if top not in ALLOWED_TOP_LEVEL:
                problems.append(f"{source.name}: imports {name}")
            elif top == "relayer" and not name.startswith(ALLOWED_EXORELAY):
                problems.append(f"{source.name}: imports {name} (outside relayer.protocol / relayer.errors)")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
                problems.append(f"{source.name}:{node.lineno}: uses .{node.attr}")
    assert problems == []
