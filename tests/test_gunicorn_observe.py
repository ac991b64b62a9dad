"""gunicorn's settings for logs and metrics, as gunicorn.conf.py reads them."""

import os

import pytest

from vault import gunicorn_observe

KEYS = (
    "VAULT_ACCESS_LOG",
    "VAULT_METRICS_TOKEN",
    "PROMETHEUS_MULTIPROC_DIR",
    "VAULT_METRICS_PREPARED_BY",
    "VAULT_METRICS_MADE_DIR",
)


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    """Whatever the tests set in os.environ is undone after each."""
    for key in KEYS:
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


@pytest.mark.parametrize(
    "setting, accesslog",
    [
        (None, "-"),
        ("", "-"),
        ("off", None),
        ("OFF", None),
        ("/var/log/vault/access.log", "/var/log/vault/access.log"),
    ],
)
def test_the_access_log_is_on_unless_turned_off(monkeypatch, setting, accesslog):
    if setting is not None:
        monkeypatch.setenv("VAULT_ACCESS_LOG", setting)

    assert gunicorn_observe.access_log() == accesslog


def test_without_a_token_no_metrics_directory_is_made():
    gunicorn_observe.prepare_metrics()

    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_given_directory_is_emptied_at_start_but_not_on_reload(monkeypatch, tmp_path):
    monkeypatch.setenv("VAULT_METRICS_TOKEN", "metrics-token-0123456789abcdef")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"old run")

    gunicorn_observe.prepare_metrics()
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "counter_456.db").write_bytes(b"a live worker's")
    gunicorn_observe.prepare_metrics()  # the master reloads its settings (HUP)
    assert [path.name for path in tmp_path.iterdir()] == ["counter_456.db"]

    gunicorn_observe.on_exit(None)
    assert tmp_path.exists()  # not ours to remove


def test_a_directory_made_for_the_run_is_removed_at_exit(monkeypatch):
    monkeypatch.setenv("VAULT_METRICS_TOKEN", "metrics-token-0123456789abcdef")

    gunicorn_observe.prepare_metrics()
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert os.path.isdir(directory) and os.listdir(directory) == []

    gunicorn_observe.on_exit(None)
    assert not os.path.exists(directory)
