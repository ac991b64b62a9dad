"""Operators' commands: `flask --app vault users ...`, `purge-trash`, `cleanup`.

They follow the same rules as the admin pages (services/admin.py), acting as
the command line in the audit log.
"""

import sys
import time
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from vault import maintenance
from vault.errors import VaultError
from vault.links import app_path, external_url
from vault.services import admin, admin_overview, lockouts, trash
from vault.text import plural
from vault.units import format_size, parse_size

users_cli = AppGroup("users", help="Manage accounts.")


def init_app(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(purge_trash)
    app.cli.add_command(cleanup)
    from vault.cli_backup import backup, restore
    from vault.cli_fsck import fsck
    from vault.cli_mail import mail_cli
    from vault.cli_storage import storage_cli

    app.cli.add_command(fsck)
    app.cli.add_command(storage_cli)
    app.cli.add_command(backup)
    app.cli.add_command(restore)
    app.cli.add_command(mail_cli)


@click.command("purge-trash")
@with_appcontext
def purge_trash() -> None:
    """Delete for good what has been in the trash longer than VAULT_TRASH_DAYS."""
    count = trash.purge_expired()
    click.echo(f"Deleted {count} item{'s' if count != 1 else ''} for good.")


@click.command("cleanup")
@with_appcontext
def cleanup() -> None:
    """Do now what the server does by itself every VAULT_CLEANUP_SECONDS.

    Remove expired resumable uploads, release quota nobody renewed, purge the
    trash (as purge-trash does) and delete share links ended long ago.
    """
    swept = maintenance.sweep_unless_busy()
    if swept is None:
        click.echo("Another process is sweeping right now; it does the work.")
        return
    click.echo(
        f"Removed {plural(swept.uploads, 'expired upload')} "
        f"({format_size(swept.upload_bytes)} received)."
    )
    click.echo(f"Released {plural(swept.reservations, 'expired reservation')}.")
    click.echo(f"Purged {plural(swept.trashed, 'item')} from the trash.")
    click.echo(f"Deleted {plural(swept.links, 'ended share link')}.")


def progress_printer(line: Callable[..., str], every: float = 2.0) -> Callable:
    """Return a progress callback that prints `line(outcome)` at most every
    `every` seconds: long copies say they are alive without flooding."""
    last = [time.monotonic()]

    def progress(outcome) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            click.echo(line(outcome))

    return progress


def _run(action: Callable, *args, **options):
    """Call a service; its error becomes the command's message and exit status."""
    try:
        return action(*args, **options)
    except VaultError as error:
        raise click.ClickException(error.message) from error


def _user(email: str):
    """Return the account with this email; if there is none, say so and exit."""
    return _run(admin_overview.get_user_by_email, email)


def _parse_quota(text: str | None):
    if text is None:
        return admin.DEFAULT
    try:
        return parse_size(text)
    except ValueError as error:
        raise click.BadParameter(
            'give a size such as "10 GB" or "500 MiB", or "unlimited"'
        ) from error


@users_cli.command("create")
@click.argument("email")
@click.option("--admin", "is_admin", is_flag=True, help="Make it an administrator.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
@click.option(
    "--quota", help='For example "10 GB" or "unlimited"; default VAULT_DEFAULT_QUOTA.'
)
def create_user(
    email: str, is_admin: bool, password_stdin: bool, quota: str | None
) -> None:
    """Create an account."""
    quota_bytes = _parse_quota(quota)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _run(
        admin.create_user,
        None,
        email,
        password,
        is_admin=is_admin,
        quota_bytes=quota_bytes,
    )
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.email} ({user.id}).")


@users_cli.command("invite")
@click.argument("email")
@click.option("--admin", "is_admin", is_flag=True, help="Make it an administrator.")
@click.option(
    "--quota", help='For example "10 GB" or "unlimited"; default VAULT_DEFAULT_QUOTA.'
)
def invite_user(email: str, is_admin: bool, quota: str | None) -> None:
    """Create an account without a password, and mail it a link to choose one."""
    user = _run(
        admin.invite_user,
        None,
        email,
        is_admin=is_admin,
        quota_bytes=_parse_quota(quota),
    )
    click.echo(f"Invited {user.email}: the server mails the link (`mail send`).")


@users_cli.command("list")
@click.option("--search", default="", help="Only emails containing this text.")
@click.option(
    "--sort",
    type=click.Choice(admin_overview.USER_SORTS),
    default="email",
    show_default=True,
)
def list_users(search: str, sort: str) -> None:
    """List accounts: email, role, status, used / quota, files."""
    page, pages = 1, 1
    while page <= pages:
        # Most used first when sorting by a number; emails read best A to Z.
        result = admin_overview.list_users(
            search, sort, descending=sort != "email", page=page, per_page=500
        )
        for row in result.rows:
            click.echo(_user_line(row))
        page, pages = page + 1, result.pages


def _user_line(row: admin_overview.UserRow) -> str:
    user = row.user
    role = "admin" if user.is_admin else "user"
    status = "disabled" if user.disabled else "active"
    usage = f"{format_size(user.charged_bytes)} / {format_size(user.quota_bytes)}"
    files = f"{row.file_count} file{'s' if row.file_count != 1 else ''}"
    return f"{user.id}  {user.email:<40} {role:<5} {status:<8} {usage:<22} {files}"


@users_cli.command("set-quota")
@click.argument("email")
@click.argument("size")
def set_quota(email: str, size: str) -> None:
    """Set an account's quota: SIZE such as "10 GB", "500 MiB" or "unlimited"."""
    quota_bytes = _parse_quota(size)
    user = _run(admin.set_quota, None, _user(email), quota_bytes)
    click.echo(f"The quota of {user.email} is now {format_size(user.quota_bytes)}.")


@users_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account: it is signed out everywhere, its tokens and links stop."""
    user = _run(admin.set_disabled, None, _user(email), True)
    click.echo(f"Disabled {user.email}.")


@users_cli.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled account again."""
    user = _run(admin.set_disabled, None, _user(email), False)
    click.echo(f"Enabled {user.email}.")


@users_cli.command("promote")
@click.argument("email")
def promote(email: str) -> None:
    """Make an account an administrator."""
    user = _run(admin.set_admin, None, _user(email), True)
    click.echo(f"{user.email} is now an administrator.")


@users_cli.command("demote")
@click.argument("email")
def demote(email: str) -> None:
    """Remove the administrator role (never from the last administrator)."""
    user = _run(admin.set_admin, None, _user(email), False)
    click.echo(f"{user.email} is no longer an administrator.")


@users_cli.command("reset-password")
@click.argument("email")
def reset_password(email: str) -> None:
    """Print a one-time link to set a new password, valid for an hour.

    The link starts with VAULT_BASE_URL; without it the command line does not
    know the vault's address, so it prints the path (/reset/...) and says so.
    """
    token = _run(admin.issue_password_reset, None, _user(email))
    if current_app.config["BASE_URL"] is None:
        click.echo(
            "VAULT_BASE_URL is not set: put the vault's address in front of this path.",
            err=True,
        )
        click.echo(app_path("auth.reset_password", token=token))
    else:
        click.echo(external_url("auth.reset_password", token=token))


@users_cli.command("unlock")
@click.argument("email")
def unlock(email: str) -> None:
    """End an account's sign-in back-off (its failed sign-ins are forgotten)."""
    user = _user(email)
    failures = _run(lockouts.clear_account, None, user)
    click.echo(
        f"Cleared {failures} failed sign-in{'s' if failures != 1 else ''} "
        f"of {user.email}."
    )


@users_cli.command("unlock-address")
@click.argument("address")
def unlock_address(address: str) -> None:
    """Lift the lockout of a client address (sign-in and share links)."""
    failures = _run(lockouts.clear_address, None, address)
    click.echo(
        f"Cleared {failures} failure{'s' if failures != 1 else ''} "
        f"counted for {address.strip()}."
    )
