"""One owner for each transaction: helpers leave the commit to their use case.

A service function that commits or rolls back, and that another service calls
other than as its last step, must say so in its docstring (docs/architecture.md,
Transactions): its commit would take its caller's pending work along.
"""

import ast
from pathlib import Path

import pytest
from sqlalchemy import event, select

from tests.test_shares_public import make_link
from vault.errors import QuotaExceeded
from vault.extensions import db
from vault.models import ShareAccess, ShareLink, User
from vault.services import audit, quotas, share_access

SERVICES = Path(__file__).resolve().parent.parent / "vault" / "services"
ENDS = {"commit", "rollback"}


def _ends_transaction(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ENDS
        and ast.unparse(node.func.value) == "db.session"
        for node in ast.walk(function)
    )


def _functions(tree: ast.Module):
    """Yield (name, function): module functions, and methods as Class.method."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def _service_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text()) for path in SERVICES.glob("*.py")}


def _callee(call: ast.Call, module: str, imported: dict[str, tuple]) -> tuple | None:
    """Return (module, function) a call names, as far as the source says."""
    func = call.func
    if isinstance(func, ast.Name):
        return imported.get(func.id, (module, func.id))
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.value.id in imported and imported[func.value.id][1] is None:
            return imported[func.value.id][0], func.attr
    return None


def _imports(tree: ast.Module) -> dict[str, tuple]:
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "vault.services":
            for alias in node.names:
                names[alias.asname or alias.name] = (alias.name, None)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "vault.services."
        ):
            source = node.module.rpartition(".")[2]
            for alias in node.names:
                names[alias.asname or alias.name] = (source, alias.name)
    return names


def _calls_before_the_end(caller: ast.FunctionDef):
    """Yield the calls a function makes other than as its last statement."""
    last = caller.body[-1]
    tail = last.value if isinstance(last, ast.Return | ast.Expr) else None
    for node in ast.walk(caller):
        if isinstance(node, ast.Call) and node is not tail:
            yield node


def test_a_service_that_commits_for_its_caller_says_so():
    modules = _service_modules()
    committing = {
        (module, name): function
        for module, tree in modules.items()
        for name, function in _functions(tree)
        if _ends_transaction(function)
    }
    silent = set()
    for module, tree in modules.items():
        imported = _imports(tree)
        for caller_name, caller in _functions(tree):
            for call in _calls_before_the_end(caller):
                callee = _callee(call, module, imported)
                function = committing.get(callee)
                if function is None or callee == (module, caller_name):
                    continue
                doc = (ast.get_docstring(function) or "").lower()
                if "commit" not in doc and "transaction" not in doc:
                    silent.add(f"{callee[0]}.{callee[1]} (called by {caller_name})")
    assert not silent, sorted(silent)


def test_the_check_sees_the_helpers_that_commit():
    committing = {
        (module, name)
        for module, tree in _service_modules().items()
        for name, function in _functions(tree)
        if _ends_transaction(function)
    }
    assert {("quotas", "reserve"), ("throttle", "admit")} <= committing


@pytest.fixture
def commits(app):
    """Count the commits of the session, in an app context."""
    counted = []
    with app.app_context():
        session = db.session()
        listener = lambda _session: counted.append(1)  # noqa: E731
        event.listen(session, "after_commit", listener)
        yield counted
        event.remove(session, "after_commit", listener)


def test_a_refused_charge_leaves_the_callers_work_alone(app, make_user, commits):
    user = db.session.get(User, make_user("carol@example.com").id)
    user.quota_bytes = 10
    db.session.commit()
    pending = audit.record("password.changed", actor=user, target=user)

    with pytest.raises(QuotaExceeded):
        quotas.charge(user, 11)

    assert pending in db.session  # a rollback would have dropped it
    assert len(commits) == 1


def test_a_line_of_a_link_log_is_part_of_the_callers_transaction(
    app, alice, upload, commits
):
    link = make_link(app, alice, upload(alice, "a.txt", b"a"))
    share = db.session.get(ShareLink, link.id)
    before = len(commits)

    share_access.add_to_log(share, "view", share_access.Visitor("192.0.2.1"))
    db.session.rollback()

    assert len(commits) == before
    assert db.session.scalars(select(ShareAccess)).all() == []
