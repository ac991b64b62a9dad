"""Measure vault side by side with copyparty and nginx; print and record the table.

.venv/bin/python -m bench            # the benchmark (make bench)
.venv/bin/python -m bench --quick    # small sizes, to try the harness
.venv/bin/python -m bench --only s3  # the S3 section alone
"""

import argparse
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import fixtures, machine, report, s3, s3_report
from bench.clients import BenchError, client_for
from bench.measurements import (
    OPERATIONS,
    Context,
    MiB,
    Results,
    Settings,
    progress,
    run,
)
from bench.servers import ROOT, SERVERS, Server, Unavailable, stop_all

FULL = {
    "size_mib": 1024,
    "uploads": 1000,
    "repeats": 3,
    "wrk_seconds": 10,
    "slow_seconds": 20,
}
QUICK = {
    "size_mib": 16,
    "uploads": 100,
    "repeats": 1,
    "wrk_seconds": 2,
    "slow_seconds": 5,
}
DOCUMENT = ROOT / "docs" / "performance.md"


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument("--size-mib", type=int, help="big file (default 1024)")
    parser.add_argument("--uploads", type=int, help="4 KiB uploads (default 1000)")
    parser.add_argument("--repeats", type=int, help="default 3")
    parser.add_argument("--wrk-seconds", type=int, help="default 10")
    parser.add_argument("--files", type=int, default=10_000, help="folder size")
    parser.add_argument(
        "--slow-clients", type=int, default=200, help="trickling connections"
    )
    parser.add_argument(
        "--slow-seconds", type=float, help="small requests timed among them"
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated operations, of {','.join(OPERATIONS)}, "
        f"or {s3.SECTION} for the S3 section",
    )
    parser.add_argument(
        "--servers",
        default=",".join(server.name for server in SERVERS),
        help="comma-separated, of vault,copyparty,nginx",
    )
    parser.add_argument("--tmp", type=Path, help="where the temp dir goes")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"page to write (default {DOCUMENT.relative_to(ROOT)}; "
        "none with --quick or --only)",
    )
    options = parser.parse_args(argv)
    for name, value in (QUICK if options.quick else FULL).items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    if options.output is None and not options.quick and not options.only:
        options.output = DOCUMENT
    return options


def start(server: Server, settings: Settings, workdir: Path, sha256: str) -> Context:
    """Start a server, furnish it and log in; raise Unavailable if it cannot."""
    try:
        server.start()
        fixtures.furnish(server, settings.folder_files)
        client = client_for(server)
    except Unavailable:
        server.stop()
        raise
    except (BenchError, OSError, subprocess.CalledProcessError) as error:
        server.stop()
        raise Unavailable(
            f"{server.name} did not start: {error} ({server.log_tail()})"
        ) from error
    return Context(
        client,
        workdir / "source.bin",
        sha256,
        settings,
        warm_up_file=workdir / "warm-up.bin",
    )


def measure_servers(
    workdir: Path, settings: Settings, sha256: str, names: list[str], only
) -> Results:
    contexts, unavailable = {}, {}
    for kind in SERVERS:
        if kind.name not in names:
            continue
        try:
            contexts[kind.name] = start(kind(workdir), settings, workdir, sha256)
        except Unavailable as error:
            unavailable[kind.name] = str(error)
            progress(f"{kind.name}: n/a: {error}")
    results = run(contexts, settings.repeats, only)
    for name, reason in unavailable.items():
        results.reasons[(name, "*")] = reason
    return results


def measure(
    workdir: Path, settings: Settings, names: list[str], only: list[str] | None
) -> tuple[Results | None, Results | None]:
    """Return the main table's results and the S3 section's (None if not run)."""
    source = workdir / "source.bin"
    progress(f"writing {settings.size // MiB} MiB of random bytes to {source}")
    sha256 = fixtures.source_file(source, settings.size)
    fixtures.source_file(workdir / "warm-up.bin", MiB)
    main = s3_results = None
    if only is None or set(only) & set(OPERATIONS):
        main = measure_servers(workdir, settings, sha256, names, only)
        stop_all()  # their idle workers would take memory from moto
    if only is None or s3.SECTION in only:
        s3_results = s3.measure(workdir, settings, sha256)
    return main, s3_results


def _stop_on_signal(signum, frame) -> None:
    # A plain exit runs the finally blocks and atexit, which stop the servers.
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    settings = Settings(
        size=options.size_mib * MiB,
        small_uploads=options.uploads,
        repeats=options.repeats,
        wrk_seconds=options.wrk_seconds,
        folder_files=options.files,
        slow_count=options.slow_clients,
        slow_seconds=options.slow_seconds,
    )
    names = [name.strip() for name in options.servers.split(",")]
    only = [name.strip() for name in options.only.split(",")] if options.only else None
    with tempfile.TemporaryDirectory(prefix="vault-bench-", dir=options.tmp) as tmp:
        workdir = Path(tmp)
        description = machine.describe(workdir)
        try:
            results, s3_results = measure(workdir, settings, names, only)
        finally:
            stop_all()
    if results is not None:
        print(report.console(results, settings))
    if s3_results is not None:
        print(s3_report.console(s3_results, settings))
    if options.output:
        if results is not None:
            page = report.document(results, settings, description, options.quick)
            report.write_document(options.output, page)
        if s3_results is not None:
            section = s3_report.section(s3_results, settings, options.quick)
            s3_report.write_section(options.output, section)
        print(f"\nwrote {options.output}")


if __name__ == "__main__":
    main()
