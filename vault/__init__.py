"""vault: a multi-user private file vault."""

import os
import secrets
import sqlite3
from datetime import timedelta

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from vault import (
    faults,
    logs,
    metrics,
    models_upkeep,  # noqa: F401 (registers its tables with db)
    paths,
    storage,
)
from vault.config import DefaultConfig
from vault.extensions import csrf, db, migrate
from vault.units import parse_size


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app; the schema is applied by `flask db upgrade`."""
    app = Flask(
        __name__,
        instance_path=paths.instance_dir(),
        instance_relative_config=True,
        template_folder=paths.resource("templates"),
        static_folder=paths.resource("static"),
    )
    _configure(app, test_config)
    logs.init_app(app)
    metrics.init_app(app)
    _wrap_wsgi(app)
    _install_first_hooks(app)
    db.init_app(app)
    _set_sqlite_pragmas(app)
    migrate.init_app(
        app,
        db,
        directory=paths.resource("migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)  # its hook reads forms: after the body limit

    from vault import downloads, views

    storage.init_app(app)
    views.init_app(app)
    downloads.init_app(app)
    _register_blueprints(app)

    from vault import cli

    cli.init_app(app)
    return app


def _wrap_wsgi(app: Flask) -> None:
    from vault import http, observe, probes

    app.request_class = http.VaultRequest
    if app.config["TRUSTED_PROXIES"]:
        count = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    # Health checks and metrics: before every hook (see vault/probes.py).
    app.wsgi_app = probes.Probes(app, app.wsgi_app)
    # The request id is there for everything inside, and the latency counts
    # all of it.
    observe.init_app(app)
    # Outermost: it asks gunicorn's own start_response to close the connection.
    app.wsgi_app = http.CloseAfterUnreadBody(app.wsgi_app)


def _install_first_hooks(app: Flask) -> None:
    """The hooks that run before all others, in this order."""
    from vault import guards, http, links, mail_sender, maintenance

    # A Host we do not answer to: refused before anything builds a URL with it
    # (an error page would).
    links.init_app(app)
    # A body too large for its route: refused unread.
    app.before_request(http.refuse_large_bodies)
    app.after_request(http.set_security_headers)
    # Starts the background sweeper; runs even when a later hook answers.
    maintenance.init_app(app)
    mail_sender.init_app(app)
    guards.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from vault.admin import bp as admin_bp
    from vault.api import bp as api_bp
    from vault.auth import bp as auth_bp
    from vault.files import bp as files_bp
    from vault.public import bp as public_bp
    from vault.shares import bp as shares_bp
    from vault.trash import bp as trash_bp

    for blueprint in (
        auth_bp,
        files_bp,
        trash_bp,
        shares_bp,
        public_bp,
        api_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)


def _configure_storage(app: Flask) -> None:
    """Pick the store: VAULT_STORAGE_URL, else the recorded switch-over, else
    VAULT_STORAGE_DIR (default: the instance folder's storage/)."""
    from vault.services.storage_switch import recorded_url

    config = app.config
    recorded = recorded_url(config["SQLALCHEMY_DATABASE_URI"])
    explicit = config.get("STORAGE_URL")
    if recorded and explicit and explicit != recorded:
        app.logger.warning(
            "VAULT_STORAGE_URL is %s, but `storage migrate` moved the bytes to %s:"
            " using %s as told; files uploaded since the switch-over are not in it.",
            explicit,
            recorded,
            explicit,
        )
    config["STORAGE_URL"] = storage.storage_url(
        explicit or recorded,
        config["STORAGE_DIR"] or os.path.join(app.instance_path, "storage"),
    )
    # For what needs a directory (an nginx alias, the tests): the store's own.
    config["STORAGE_DIR"] = storage.local_directory(config["STORAGE_URL"])


def _configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("VAULT")
    if test_config:
        app.config.update(test_config)
    config = app.config

    if "DATABASE_URL" in config:
        config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    if not config["SQLALCHEMY_DATABASE_URI"]:
        path = os.path.join(app.instance_path, "vault.db")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    config["SQLALCHEMY_DATABASE_URI"] = _with_driver(config["SQLALCHEMY_DATABASE_URI"])
    # A database server may drop pooled connections (a restart, an idle
    # timeout): test each before use. A SQLite file cannot, and the test query
    # would be a tenth of a small request's time.
    config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        {"pool_pre_ping": not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")},
    )
    _configure_storage(app)
    config["MAX_UPLOAD_BYTES"] = parse_size(config["MAX_UPLOAD_BYTES"])
    # Every route that is not an upload (see vault/http.py) takes this at most.
    config["MAX_BODY_BYTES"] = parse_size(config["MAX_BODY_BYTES"])
    config["DEFAULT_QUOTA_BYTES"] = parse_size(config["DEFAULT_QUOTA"])
    config.setdefault("REMEMBER_COOKIE_SECURE", config["SESSION_COOKIE_SECURE"])
    # The remember-me cookie lives as long as the server-side session it names.
    config.setdefault(
        "REMEMBER_COOKIE_DURATION", timedelta(days=config["SESSION_LIFETIME_DAYS"])
    )
    faults.check_config(config)
    if config["REGISTRATION"] not in ("open", "closed"):
        raise ValueError("VAULT_REGISTRATION must be 'open' or 'closed'")
    _check_counts(config)
    from vault import links

    config["BASE_URL"] = links.check_base_url(config.get("BASE_URL"))
    config["TRUSTED_HOSTS"] = links.trusted_hosts(
        config.get("TRUSTED_HOSTS"), config["BASE_URL"]
    )
    from vault import mail

    config["SMTP"] = mail.check_config(config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(app.instance_path)


def _check_counts(config) -> None:
    for name in ("RESUMABLE_THRESHOLD_BYTES", "RESUMABLE_CHUNK_BYTES"):
        # The browser uploader takes them as they are (templates/files/folder.html).
        if not (isinstance(config[name], int) and config[name] > 0):
            raise ValueError(f"VAULT_{name} must be a whole number of bytes above 0")
    # A typo here would delete links too soon, or never: refuse it at start.
    days = config["ENDED_LINK_DAYS"]
    if not (isinstance(days, int) and not isinstance(days, bool) and days >= 0):
        raise ValueError(
            "VAULT_ENDED_LINK_DAYS must be a whole number of days, 0 or more"
        )


def _with_driver(url: str) -> str:
    # We ship psycopg 3; a bare postgresql:// URL would ask for psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(instance_path: str) -> str:
    """Read the instance's secret key, creating it on first run.

    Linking a complete temp file into place is atomic, so two processes starting
    together agree on one key.
    """
    # The instance folder holds this key and, by default, the database and the
    # files: nobody but vault's own user has anything to look for in it.
    os.makedirs(instance_path, mode=0o700, exist_ok=True)
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        temp = f"{path}.{secrets.token_hex(8)}"
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    with open(path) as f:
        return f.read().strip()


def _set_sqlite_pragmas(app: Flask) -> None:
    """Give the app's own engines their pragmas, and no other engine.

    Not a listener on every Engine: one that reads a backup's copy must not
    switch it to WAL (it would no longer be one file, nor open read-only).
    """
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
