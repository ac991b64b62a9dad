"""Services and storage never reach for the web layer: every front end can use them."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vault"
WEB_ONLY = {"request", "session", "flash", "url_for", "abort", "current_user", "g"}
LAYERS = sorted((PACKAGE / "services").glob("*.py")) + sorted(
    (PACKAGE / "storage").glob("*.py")
)


@pytest.mark.parametrize("path", LAYERS, ids=lambda path: path.name)
def test_domain_layer_does_not_use_request_state(path):
    tree = ast.parse(path.read_text())
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
            used |= {alias.name for alias in node.names} & WEB_ONLY
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("flask", "flask_login") and node.attr in WEB_ONLY:
                used.add(node.attr)
    assert not used, f"{path.name} uses {sorted(used)}"


def test_the_check_sees_every_module():
    assert {path.name for path in LAYERS} >= {"files.py", "accounts.py", "local.py"}


# The backends; everything else sees a store through vault.storage and
# vault.storage.base (the protocols and capabilities).
BACKENDS = {"vault.storage.local", "vault.storage.local_files", "vault.storage.s3"}
OUTSIDE_STORAGE = [
    path
    for path in sorted(PACKAGE.rglob("*.py"))
    if (PACKAGE / "storage") not in path.parents
]


def _imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize(
    "path", OUTSIDE_STORAGE, ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_nothing_outside_storage_imports_a_backend(path):
    imported = _imported_modules(ast.parse(path.read_text()))
    assert not imported & BACKENDS, f"{path.name} imports {imported & BACKENDS}"


def test_the_backend_check_sees_every_front_end():
    names = {str(path.relative_to(PACKAGE)) for path in OUTSIDE_STORAGE}
    assert {"downloads.py", "services/fsck.py", "api/uploads.py"} <= names
