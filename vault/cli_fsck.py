"""`flask --app vault fsck`: compare the database with the storage."""

import click
from flask.cli import with_appcontext

from vault.services import fsck as checker
from vault.services.fsck_report import Report
from vault.units import format_size


@click.command("fsck")
@click.option(
    "--repair",
    is_flag=True,
    help=(
        "Fix counters and reservations; move orphan files to lost+found; "
        "put folders cut off from the root in Recovered."
    ),
)
@click.option("--quick", is_flag=True, help="Skip verifying every blob's SHA-256.")
@with_appcontext
def fsck(repair: bool, quick: bool) -> None:
    """Check that the database and the stored files agree; exit 1 if not."""
    report = checker.check(repair=repair, verify_hashes=not quick)
    for problems in report.by_kind().values():
        for problem in problems:
            line = f"{problem.kind}: {problem.message}"
            if problem.repaired:
                line += f" Repaired: {problem.repair}."
            click.echo(line)
    click.echo(_summary(report, repair))
    for directory in sorted(report.lost_found_dirs):
        click.echo(f"Moved aside into {directory}")
    if report.lost_found_files:
        count = report.lost_found_files
        click.echo(
            f"The lost+found areas hold {count} file{'s' if count != 1 else ''} "
            f"({format_size(report.lost_found_bytes)}): look through them, then "
            "delete what nobody needs."
        )
    if report.problems:
        raise SystemExit(1)


def _summary(report: Report, repair: bool) -> str:
    found = len(report.problems)
    if not found:
        return "No problems found."
    problems = f"{found} problem{'s' if found != 1 else ''} found"
    if repair:
        return f"{problems}, {report.repaired_count} repaired."
    if report.repairable_count:
        return f"{problems}; --repair would fix {report.repairable_count}."
    return f"{problems}."
