"""Settings the app works out for itself from the ones it is given."""

import pytest

from vault import create_app
from vault.services import storage_switch


@pytest.mark.parametrize(
    "url, pre_ping",
    [
        ("sqlite:///{tmp}/vault.db", False),
        ("postgresql://vault@127.0.0.1:5432/vault", True),
    ],
)
def test_pooled_connections_are_tested_only_where_a_server_can_drop_them(
    tmp_path, url, pre_ping, monkeypatch
):
    # No server answers at that URL; the storage switch-over is read from the
    # database at start (tests/test_storage_migrate.py), not wanted here.
    monkeypatch.setattr(storage_switch, "recorded_url", lambda url: None)
    app = create_app(
        {
            "DATABASE_URL": url.format(tmp=tmp_path),
            "STORAGE_DIR": str(tmp_path / "storage"),
            "SECRET_KEY": "test",
        }
    )

    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": pre_ping}
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith(url.split(":")[0])


def test_engine_options_given_by_the_operator_are_kept(tmp_path):
    options = {"pool_size": 20, "pool_pre_ping": True}

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/vault.db",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "SECRET_KEY": "test",
            "SQLALCHEMY_ENGINE_OPTIONS": options,
        }
    )

    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == options


@pytest.mark.parametrize("name", ["RESUMABLE_THRESHOLD_BYTES", "RESUMABLE_CHUNK_BYTES"])
@pytest.mark.parametrize("value", [0, -1, "8 MiB"])
def test_resumable_sizes_must_be_positive_byte_counts(tmp_path, name, value):
    with pytest.raises(ValueError, match=f"VAULT_{name} must be a whole number"):
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path}/vault.db",
                "STORAGE_DIR": str(tmp_path / "storage"),
                "SECRET_KEY": "test",
                name: value,
            }
        )


@pytest.mark.parametrize("value", [-1, "30 days", 1.5, True])
def test_ended_link_days_must_be_a_whole_number(tmp_path, value):
    with pytest.raises(ValueError, match="VAULT_ENDED_LINK_DAYS must be a whole"):
        _app_with_storage(tmp_path, ENDED_LINK_DAYS=value)


def test_ended_link_days_may_be_zero(tmp_path):
    app = _app_with_storage(tmp_path, ENDED_LINK_DAYS=0)

    assert app.config["ENDED_LINK_DAYS"] == 0


def _app_with_storage(tmp_path, **settings):
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/vault.db",
            "SECRET_KEY": "test",
            **settings,
        }
    )


def test_the_storage_directory_is_the_default_store(tmp_path):
    app = _app_with_storage(tmp_path, STORAGE_DIR=str(tmp_path / "bytes"))

    assert app.config["STORAGE_URL"] == f"file://{tmp_path}/bytes"
    assert app.extensions["vault.storage"].root == str(tmp_path / "bytes")


def test_a_file_url_places_the_store_and_names_its_directory(tmp_path):
    app = _app_with_storage(tmp_path, STORAGE_URL=f"file://{tmp_path}/elsewhere")

    assert app.config["STORAGE_DIR"] == f"{tmp_path}/elsewhere"
    assert app.extensions["vault.storage"].root == f"{tmp_path}/elsewhere"


@pytest.mark.parametrize(
    "url", ["file://relative/path", "ftp://host/x", "s3://", "/just/a/path"]
)
def test_a_store_url_that_names_no_store_is_refused(tmp_path, url):
    with pytest.raises(ValueError, match="VAULT_STORAGE_URL"):
        _app_with_storage(tmp_path, STORAGE_URL=url)


def test_an_instance_folder_of_its_own_holds_its_config_and_key(tmp_path, monkeypatch):
    instance = tmp_path / "server-a"
    instance.mkdir()
    (instance / "config.py").write_text("REGISTRATION = 'open'\n")
    monkeypatch.setenv("VAULT_INSTANCE_DIR", str(instance))

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/vault.db"})

    assert app.instance_path == str(instance)
    assert app.config["REGISTRATION"] == "open"
    assert app.config["STORAGE_DIR"] == str(instance / "storage")
    assert app.config["SECRET_KEY"] == (instance / "secret_key").read_text()


def test_an_instance_folder_must_be_an_absolute_path(monkeypatch):
    monkeypatch.setenv("VAULT_INSTANCE_DIR", "instance-b")

    with pytest.raises(ValueError, match="VAULT_INSTANCE_DIR"):
        create_app({"SECRET_KEY": "test"})
