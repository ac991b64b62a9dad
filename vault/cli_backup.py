"""`flask --app vault backup DEST` and `restore SRC`: copies to keep, and back."""

import os

import click
from flask.cli import with_appcontext

from vault.cli import progress_printer
from vault.errors import VaultError
from vault.services import backup as backups
from vault.services import restore as restores
from vault.text import plural
from vault.units import format_size


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False))
@with_appcontext
def backup(destination: str) -> None:
    """Copy the database and every blob into the folder DESTINATION.

    The vault keeps serving. Run it again into the same folder to copy only
    what is new; exits 1 if a blob is missing or damaged in the store.
    """
    try:
        outcome = backups.backup(destination, progress=progress_printer(_copied))
    except VaultError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Database: {outcome.database_file}")
    click.echo(
        f"Blobs: copied {plural(outcome.copied, 'blob')} "
        f"({format_size(outcome.copied_bytes)}), "
        f"{outcome.present} already there ({format_size(outcome.present_bytes)})."
    )
    if outcome.deleted:
        click.echo(
            f"{plural(len(outcome.deleted), 'file')} deleted for good while this "
            "ran: a restore leaves them out."
        )
    for problem in outcome.problems:
        click.echo(f"Not backed up: {problem}", err=True)
    if outcome.problems:
        raise click.ClickException(
            f"{plural(len(outcome.problems), 'blob')} could not be backed up "
            "(listed above): run `vault fsck`."
        )
    click.echo(
        f"Backup complete: {os.path.join(destination, 'manifest.json')} lists "
        "what it holds."
    )


@click.command("restore")
@click.argument("source", type=click.Path(file_okay=False, exists=True))
@with_appcontext
def restore(source: str) -> None:
    """Fill this empty instance (database and store) from the backup in SOURCE."""
    try:
        outcome = restores.restore(source)
    except VaultError as error:
        raise click.ClickException(error.message) from error
    click.echo(
        f"Restored the database backed up at {outcome.created_at} "
        f"(migration {outcome.revision or 'none recorded'})."
    )
    click.echo(
        f"Blobs: copied {plural(outcome.copied, 'blob')} "
        f"({format_size(outcome.copied_bytes)}), "
        f"{outcome.present} already there from an earlier try."
    )
    if outcome.dropped:
        click.echo(
            f"Left out {plural(outcome.dropped, 'file')} deleted for good while "
            "the backup ran."
        )
    click.echo(
        "Next: `vault db upgrade` if this version of vault is newer, then `vault fsck`."
    )


def _copied(outcome) -> str:
    return (
        f"  ... copied {outcome.copied} ({format_size(outcome.copied_bytes)}),"
        f" {outcome.present} already there"
    )
