"""`flask --app vault storage migrate --to URL`: move the bytes to another store."""

import click
from flask.cli import AppGroup

from vault.cli import progress_printer
from vault.errors import VaultError
from vault.services import storage_migration
from vault.units import format_size

storage_cli = AppGroup("storage", help="Manage the byte store.")


@storage_cli.command("migrate")
@click.option(
    "--to",
    "to",
    required=True,
    help="The new store: s3://BUCKET/PREFIX or file:///absolute/path.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be copied.")
@click.option(
    "--force",
    is_flag=True,
    help="Switch over even if some blobs are missing or damaged in the source.",
)
def migrate(to: str, dry_run: bool, force: bool) -> None:
    """Copy every blob to another store, check its SHA-256, and switch over.

    Safe to interrupt and run again; deletes nothing from the current store.
    """
    try:
        outcome = storage_migration.migrate(
            to, dry_run=dry_run, force=force, progress=progress_printer(_checked)
        )
    except VaultError as error:
        raise click.ClickException(error.message) from error
    for number, done in enumerate(outcome.passes, start=1):
        click.echo(f"Pass {number}: {_counts(done, dry_run)}")
    for problem in outcome.problems:
        click.echo(f"Not copied: {problem}", err=True)
    _conclude(outcome, dry_run, force)


def _conclude(outcome, dry_run: bool, force: bool) -> None:
    copied = sum(done.copied for done in outcome.passes)
    if dry_run:
        click.echo("Dry run: nothing copied, nothing switched.")
    elif outcome.already:
        click.echo(
            f"Already switched to {outcome.target}: "
            + (
                f"copied {copied} blob{'s' if copied != 1 else ''} that reached "
                f"{outcome.source} since."
                if copied
                else "nothing to do."
            )
        )
    elif outcome.switched:
        if outcome.problems:
            click.echo("Switched over anyway (--force).", err=True)
        click.echo(
            f"Switched over to {outcome.target}. Restart every app server, then "
            "run this command once more to copy what reached the old store "
            "meanwhile. Nothing was deleted from it."
        )
    if outcome.problems and not (outcome.switched or outcome.already):
        raise click.ClickException(
            f"{len(outcome.problems)} blob(s) could not be copied: not switched "
            "over. Run `vault fsck`, or switch anyway with --force."
        )
    if outcome.problems and outcome.already and not force:
        raise click.ClickException("Some blobs could not be copied (listed above).")


def _counts(done, dry_run: bool) -> str:
    verb = "to copy" if dry_run else "copied"
    return (
        f"{done.copied} {verb} ({format_size(done.copied_bytes)}), "
        f"{done.present} already there ({format_size(done.present_bytes)})"
        + (f", {len(done.missing)} missing" if done.missing else "")
        + (f", {len(done.corrupt)} damaged" if done.corrupt else "")
    )


def _checked(done) -> str:
    return (
        f"  ... checked {done.copied + done.present}, "
        f"copied {done.copied} ({format_size(done.copied_bytes)})"
    )
