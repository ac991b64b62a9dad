"""The `vault` command: the app's own command line, and `vault serve`.

Every command the app registers (`db`, `users`, `fsck`, `cleanup`, ... see
vault/cli.py) is here as it is under `flask --app vault`, so an installed
vault needs neither `--app` nor a checkout. `serve` is this group's own: it
checks the schema, then hands the process to gunicorn, whose workers each
build the app.
"""

import os
import sys

import click
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from vault import create_app, paths
from vault.extensions import db, migrate

# gunicorn reads these settings from the installed package, and calls the
# factory in each worker.
GUNICORN_SETTINGS = "python:vault.gunicorn_settings"
APP_FACTORY = "vault:create_app()"


@click.command(
    "serve", context_settings={"ignore_unknown_options": True, "help_option_names": []}
)
@click.argument("gunicorn_options", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def serve(gunicorn_options: tuple[str, ...]) -> None:
    """Serve vault with gunicorn and the settings it ships.

    VAULT_BIND (127.0.0.1:8000), VAULT_WORKERS (2) and VAULT_THREADS (8) set
    the address and size; any options given go to gunicorn as they are
    (`vault serve --log-level debug`; `vault serve --help` lists them).
    Refuses a database that `vault db upgrade` has not brought up to date.
    """
    _check_schema()
    click.echo(f"vault: instance folder {paths.instance_dir()}", err=True)
    command = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_SETTINGS]
    # gunicorn in place of this process: signals from systemd or a terminal
    # reach its master, and its readiness notice comes from the unit's main PID.
    sys.stderr.flush()
    # The operator's own options, passed as a list: no shell reads them.
    os.execv(sys.executable, [*command, *gunicorn_options, APP_FACTORY])  # noqa: S606


def _create_app():
    """Build the app; a setting it refuses ends the command with its message."""
    try:
        return create_app()
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def _check_schema() -> None:
    """Refuse to serve a schema other than the one this version migrates to.

    Every page would fail on it; one message at start says what to do. The
    connection is closed before gunicorn takes this process over.
    """
    heads = set(ScriptDirectory.from_config(migrate.get_config()).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    db.engine.dispose()
    if current != heads:
        raise click.ClickException(
            f"The database is at revision {', '.join(sorted(current)) or 'none'};"
            f" this vault needs {', '.join(sorted(heads))}."
            " Run `vault db upgrade` first."
        )


main = FlaskGroup(
    name="vault",
    help="vault, a private file vault: serve it, and manage its data and accounts.",
    create_app=_create_app,
    # Werkzeug's development server (`flask run`) is left out: `serve` is
    # how vault runs. A .env in whatever folder the command runs from is not
    # read: settings come from the environment and the instance's config.py.
    add_default_commands=False,
    load_dotenv=False,
)
# FlaskGroup's --app, --debug and --env-file would pick another app, Werkzeug's
# debugger and a python-dotenv file: none of them belongs to an installed vault.
main.params = []
click.version_option(package_name="vault", prog_name="vault")(main)
main.add_command(serve)
main.add_command(shell_command)
main.add_command(routes_command)
