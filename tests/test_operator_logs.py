"""Events worth an operator's eye reach the log, with no secret in it."""

import json
import logging

import pytest
from flask.logging import default_handler
from sqlalchemy import update

from tests.conftest import AuthActions, fresh_app
from tests.helpers import remove_blob
from vault import create_app
from vault.extensions import db
from vault.models import User
from vault.observe import REQUEST_ID_KEY
from vault.redaction import short_hash
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


def _log_in_request(app, message: str) -> None:
    # The id as the outermost middleware leaves it for the app.
    with app.test_request_context("/", environ_base={REQUEST_ID_KEY: "req-7"}):
        app.logger.warning(message)


def test_app_log_lines_carry_the_request_id_and_no_secret(app, capsys):
    token = "Zk3Jx0_qLw-8sN2mYtR4vB6cD1eF5gH7iJ9kL0mN2oP"

    _log_in_request(app, f"something about /s/{token}/download")

    line = capsys.readouterr().err.strip()
    assert token not in line
    assert line.endswith(
        f"[WARNING] vault: something about /s/{short_hash(token)}/download"
        " request_id=req-7"
    )


def test_the_app_log_can_be_json(app_config, capsys):
    with fresh_app({**app_config, "LOG_FORMAT": "json"}) as app:
        _log_in_request(app, "disk nearly full")

    entry = json.loads(capsys.readouterr().err.strip())
    assert entry["level"] == "WARNING" and entry["logger"] == "vault"
    assert entry["message"] == "disk nearly full"
    assert entry["request_id"] == "req-7"


def test_an_unknown_log_format_is_refused_at_start(app_config):
    with pytest.raises(ValueError, match="VAULT_LOG_FORMAT"):
        create_app({**app_config, "LOG_FORMAT": "xml"})


def test_each_record_is_written_once_even_after_flask_added_its_handler(
    app_config, capsys
):
    # What a warning logged while configuring leaves behind (flask.logging).
    logging.getLogger("vault").addHandler(default_handler)
    with fresh_app(app_config) as app:
        _log_in_request(app, "said once")

    assert capsys.readouterr().err.count("said once") == 1
