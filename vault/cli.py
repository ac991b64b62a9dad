"""Operators' commands: `flask --app vault users ...`."""

import sys

import click
from flask.cli import AppGroup, with_appcontext

from vault.errors import VaultError
from vault.services import accounts, trash
from vault.units import format_size

users_cli = AppGroup("users", help="Manage accounts.")


def init_app(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(purge_trash)


@click.command("purge-trash")
@with_appcontext
def purge_trash() -> None:
    """Delete for good what has been in the trash longer than VAULT_TRASH_DAYS."""
    count = trash.purge_expired()
    click.echo(f"Deleted {count} item{'s' if count != 1 else ''} for good.")


@users_cli.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
def create_user(email: str, admin: bool, password_stdin: bool) -> None:
    """Create an account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(email, password, is_admin=admin)
    except VaultError as error:
        raise click.ClickException(error.message) from error
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.email} ({user.id}).")


@users_cli.command("list")
def list_users() -> None:
    """List every account."""
    for user in accounts.list_users():
        role = "admin" if user.is_admin else "user"
        status = "disabled" if user.disabled else "active"
        usage = f"{format_size(user.used_bytes)} / {format_size(user.quota_bytes)}"
        click.echo(f"{user.id}  {user.email:<40} {role:<5} {status:<8} {usage}")
