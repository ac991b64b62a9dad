from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from vault.extensions import db


def test_migrations_produce_exactly_the_models_schema(app):
    with app.app_context():
        db.drop_all()
        try:
            upgrade()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True}
                )
                assert compare_metadata(context, db.metadata) == []
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        finally:
            with db.engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_downloads_counted_before_bytes_counted_carry_over(app):
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision="0009")
            _insert_link_used(3000)  # past what an INTEGER holds in millionths
            upgrade(revision="0010")
            units = _one("SELECT download_units FROM share_links")
            downgrade(revision="0009")
            count = _one("SELECT download_count FROM share_links")
            downgrade(revision="base")
        finally:
            with db.engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    assert (units, count) == (3_000_000_000, 3000)


def _insert_link_used(count: int) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, password_hash, is_admin, disabled,"
                " used_bytes, created_at) VALUES ('u1', 'a@example.com', 'x',"
                " false, false, 0, '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO share_links (id, owner_id, kind, token_hash, created_at,"
                " expires_at, max_downloads, download_count, upload_count) VALUES"
                " ('s1', 'u1', 'download', 'h', '2026-01-01', '2026-02-01', 2,"
                " :count, 0)"
            ),
            {"count": count},
        )


def _one(query: str):
    with db.engine.connect() as connection:
        return connection.execute(text(query)).scalar_one()
