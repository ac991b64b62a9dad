"""`flask --app vault mail ...`: send the outbox now, or a test message."""

import click
from flask import current_app
from flask.cli import AppGroup

from vault import mail
from vault.errors import VaultError
from vault.services import mail_messages, outbox

mail_cli = AppGroup("mail", help="Send mail (VAULT_SMTP_URL).")


def _settings() -> mail.SmtpSettings:
    settings = current_app.config["SMTP"]
    if settings is None:
        raise click.ClickException("VAULT_SMTP_URL is not set: vault sends no mail.")
    return settings


@mail_cli.command("send")
def send() -> None:
    """Send every queued mail that is due (for cron, with VAULT_MAIL_POLL_SECONDS=0)."""
    _settings()
    sent, failed = outbox.deliver_pending()
    click.echo(f"Sent {sent}, failed {failed}; {outbox.pending_count()} waiting.")
    if failed:
        raise SystemExit(1)


@mail_cli.command("test")
@click.argument("address")
def test(address: str) -> None:
    """Send a test message to ADDRESS now, and say what the server answered."""
    try:
        message = mail_messages.test_message(address)
    except VaultError as error:
        raise click.ClickException(error.message) from error
    try:
        mail.send(_settings(), message)
    except mail.MailFailed as error:
        raise click.ClickException(f"Not sent: {error}") from error
    click.echo(f"Sent a test message to {address}.")
