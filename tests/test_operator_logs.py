"""Events worth an operator's eye reach the log, with no secret in it."""

import logging

import pytest
from sqlalchemy import update

from tests.conftest import AuthActions
from tests.helpers import remove_blob
from vault.extensions import db
from vault.models import User
from vault.services import fsck

WRONG = "hunter2-wrong-guess"


def test_a_lockout_is_logged_once_without_what_was_typed(app, bob, caplog):
    auth = AuthActions(app.test_client())
    with caplog.at_level(logging.WARNING, logger="vault"):
        for _ in range(app.config["LOGIN_BACKOFF_AFTER"]):
            assert auth.login("bob@example.com", WRONG).status_code == 401

    [record] = [r for r in caplog.records if "lockout" in r.message]
    assert record.levelname == "WARNING"
    assert record.message.startswith("lockout started: account (account:")
    assert WRONG not in caplog.text
    assert "bob@example.com" not in caplog.text


@pytest.mark.bytes
def test_fsck_problems_are_logged_as_a_summary(app, bob, upload, caplog):
    notes = upload(bob, "notes.txt", b"bob's notes\n")
    remove_blob(app, notes.storage_key)
    with app.app_context():
        db.session.execute(update(User).where(User.id == bob.id).values(used_bytes=1))
        db.session.commit()
        with caplog.at_level(logging.WARNING, logger="vault"):
            fsck.check(verify_hashes=False)

    [record] = [r for r in caplog.records if r.name == "vault.services.fsck"]
    assert record.levelname == "WARNING"
    assert record.message == (
        "fsck found 2 problem(s) (missing_blob: 1, usage_drift: 1), 0 repaired"
    )


def test_a_vault_without_problems_logs_nothing_from_fsck(app, caplog):
    with app.app_context(), caplog.at_level(logging.INFO, logger="vault"):
        fsck.check(verify_hashes=False)

    assert [r for r in caplog.records if r.name == "vault.services.fsck"] == []
