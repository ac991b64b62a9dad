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
