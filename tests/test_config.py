"""Settings the app works out for itself from the ones it is given."""

import pytest

from vault import create_app


@pytest.mark.parametrize(
    "url, pre_ping",
    [
        ("sqlite:///{tmp}/vault.db", False),
        ("postgresql://vault@127.0.0.1:5432/vault", True),
    ],
)
def test_pooled_connections_are_tested_only_where_a_server_can_drop_them(
    tmp_path, url, pre_ping
):
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
