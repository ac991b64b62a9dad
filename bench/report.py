"""The table: medians side by side, ratios, the issue's targets, and the doc page."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.measurements import MiB, Results, Settings

SERVERS = ("vault", "copyparty", "nginx")
BEGIN = "<!-- Written by `make bench` (bench/report.py) down to the end marker. -->"
END = "<!-- End of what `make bench` writes; edit freely below. -->"


@dataclass
class AtLeastTimes:
    """vault's figure is at least `factor` times a peer's."""

    factor: float
    peer: str

    def describe(self) -> str:
        return f"≥ {self.factor:.1f}× {self.peer}"

    def met(self, cells: dict[str, float | None]) -> bool | None:
        if cells["vault"] is None or cells[self.peer] is None:
            return None
        return cells["vault"] >= self.factor * cells[self.peer]


@dataclass
class Limit:
    """vault's figure is at most (or at least) a fixed number."""

    bound: float
    unit: str
    at_most: bool = True

    def describe(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.bound:,g} {self.unit}"

    def met(self, cells: dict[str, float | None]) -> bool | None:
        if cells["vault"] is None:
            return None
        if self.at_most:
            return cells["vault"] <= self.bound
        return cells["vault"] >= self.bound


@dataclass
class Row:
    label: str  # formatted with size, uploads, clients, files, seconds
    unit: str
    operations: dict[str, str]  # server -> operation whose figure it shows
    targets: tuple = ()
    notes: dict[str, str] = field(default_factory=dict)  # server -> how
    # A ratio only where the servers do the same work: a growth of 5 MiB
    # against one of 0.1 MiB says nothing as a ratio.
    ratios: bool = True

    def cells(self, results: Results) -> dict[str, float | None]:
        return {
            server: results.median(server, self.operations[server])
            for server in SERVERS
        }


def _same(operation: str) -> dict[str, str]:
    return dict.fromkeys(SERVERS, operation)


ROWS = (
    Row(
        "Upload {size}, one request",
        "MB/s",
        _same("upload"),
        (AtLeastTimes(1.0, "copyparty"), AtLeastTimes(0.9, "nginx")),
        {"vault": "multipart", "copyparty": "multipart", "nginx": "PUT"},
    ),
    Row(
        "Upload {size}, resumable",
        "MB/s",
        {"vault": "tus", "copyparty": "put", "nginx": "put"},
        (AtLeastTimes(0.9, "copyparty"),),
        {"vault": "tus", "copyparty": "PUT", "nginx": "PUT"},
    ),
    Row(
        "Peak RSS during the {size} upload, above idle",
        "MiB",
        _same("upload_rss"),
        (Limit(16, "MiB"),),
        ratios=False,
    ),
    Row(
        "Download {size} whole",
        "MB/s",
        _same("download"),
        (AtLeastTimes(0.9, "nginx"),),
    ),
    Row("Last 1 MiB by Range, median of 20", "ms", _same("range"), (Limit(5, "ms"),)),
    Row(
        "{uploads:,} uploads of 4 KiB, one client",
        "req/s",
        _same("small_sequential"),
        (AtLeastTimes(1.0, "copyparty"),),
    ),
    Row(
        "{uploads:,} uploads of 4 KiB, {clients} clients",
        "req/s",
        _same("small_concurrent"),
        (AtLeastTimes(1.0, "copyparty"),),
    ),
    Row(
        "GET /api/v1/me, wrk for {seconds} s",
        "req/s",
        _same("tiny_get"),
        (Limit(3000, "req/s", at_most=False),),
        {"copyparty": "256 B file, auth", "nginx": "256 B static file"},
    ),
    Row(
        "First page of a {files:,}-file folder",
        "ms",
        _same("folder_page"),
        (Limit(100, "ms"),),
    ),
)

VAULT_ONLY = (
    ("Folder page 1, by size", "page_by_size"),
    ("Folder page 1, by date", "page_by_date"),
    ("Folder, last page", "page_last"),
    ("Search 'document-0999'", "search"),
    ("API: the whole folder (JSON)", "api_folder"),
)

SLOW_CLIENTS = (
    ("p50", "slow_p50", "ms", None),
    ("p99", "slow_p99", "ms", Limit(100, "ms")),
    ("max", "slow_max", "ms", None),
    ("answered", "slow_requests", "requests", None),
    ("not answered within 10 s", "slow_errors", "requests", Limit(0, "requests")),
)

HEADER = (
    "operation",
    "vault",
    "copyparty",
    "nginx",
    "vault/copyparty",
    "vault/nginx",
    "target",
    "met?",
)


def size_label(size: int) -> str:
    if size % (1024 * MiB) == 0:
        return f"{size // (1024 * MiB)} GiB"
    return f"{size / MiB:g} MiB"


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("ms", "MiB"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def cell(row: Row, server: str, value: float | None) -> str:
    """Format a figure, saying how the server did it where the row mixes ways."""
    if value is None or server not in row.notes:
        return number(value, row.unit)
    return f"{number(value, row.unit)} ({row.notes[server]})"


def ratio(value: float | None, peer: float | None) -> str:
    if value is None or peer is None:
        return "n/a"
    return f"{value / peer:.2f}×" if peer else "–"


def verdict(row: Row, cells: dict) -> str:
    if not row.targets:
        return ""
    answers = [target.met(cells) for target in row.targets]
    if None in answers:
        return "n/a"
    return "yes" if all(answers) else "**no**"


def table_rows(results: Results, settings: Settings) -> list[tuple[str, ...]]:
    labels = {
        "size": size_label(settings.size),
        "uploads": settings.small_uploads,
        "clients": settings.concurrency,
        "files": settings.folder_files,
        "seconds": settings.wrk_seconds,
    }
    rows = []
    for row in ROWS:
        cells = row.cells(results)
        rows.append(
            (
                f"{row.label.format(**labels)} ({row.unit})",
                *(cell(row, server, cells[server]) for server in SERVERS),
                *(
                    ratio(cells["vault"], cells[peer]) if row.ratios else "–"
                    for peer in ("copyparty", "nginx")
                ),
                ", ".join(target.describe() for target in row.targets),
                verdict(row, cells),
            )
        )
    return rows


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    numeric = [False, *([True] * (len(header) - 1))]

    def line(cells) -> str:
        padded = (
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (width + 1) + (":" if right else "-")
        for width, right in zip(widths, numeric, strict=True)
    )
    return "\n".join([line(header), rule + "|", *map(line, rows)])


def missing(results: Results) -> list[str]:
    """One line per server and reason for every n/a."""
    lines = []
    for (server, operation), reason in results.reasons.items():
        where = server if operation == "*" else f"{server}, {operation}"
        if f"{where}: {reason}" not in lines:
            lines.append(f"{where}: {reason}")
    return lines


def vault_table(results: Results) -> str:
    rows = [
        (label, number(results.median("vault", operation), "ms"))
        for label, operation in VAULT_ONLY
    ]
    header = ("vault alone, same folder (HTML pages of 200 rows)", "ms")
    return markdown_table(header, rows)


def slow_table(results: Results, settings: Settings) -> str:
    """Another user's GET /api/v1/me while slow clients trickle."""
    rows = []
    for label, operation, unit, target in SLOW_CLIENTS:
        cells = {"vault": results.median("vault", operation)}
        goal, met = "", ""
        if target is not None:
            goal, met = (
                target.describe(),
                verdict(Row(label, unit, {}, (target,)), cells),
            )
        rows.append((label, number(cells["vault"], unit), goal, met))
    header = (
        f"vault, GET /api/v1/me among {settings.slow_count} slow clients",
        "ms or count",
        "target",
        "met?",
    )
    return markdown_table(header, rows)


def console(results: Results, settings: Settings) -> str:
    parts = [markdown_table(HEADER, table_rows(results, settings))]
    if notes := missing(results):
        parts.append("n/a:\n" + "\n".join(f"  {line}" for line in notes))
    parts.append(vault_table(results))
    parts.append(slow_table(results, settings))
    return "\n\n".join(parts)


def run_words(quick: bool, repeats: int) -> tuple[str, str, str]:
    """When the run was, what kind of run, and what each figure is of."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "a **quick run** (small sizes, not the benchmark)" if quick else "a run"
    of = f"the median of {repeats} repeats" if repeats > 1 else "from a single repeat"
    return when, kind, of


def document(
    results: Results, settings: Settings, machine: list[tuple[str, str]], quick: bool
) -> str:
    """Return the part of docs/performance.md that each run rewrites."""
    when, kind, repeats = run_words(quick, settings.repeats)
    lines = [
        BEGIN,
        "",
        f"Figures from {kind} of `make bench` on {when}: vault, copyparty and "
        f"nginx measured in the same run on the machine below, each figure "
        f"{repeats}. MB/s is 10⁶ bytes a second.",
        "",
        markdown_table(HEADER, table_rows(results, settings)),
        "",
    ]
    if notes := missing(results):
        lines += ["Not measured:", ""] + [f"- {line}" for line in notes] + [""]
    lines += [vault_table(results), "", "## Slow clients", "", SLOW_CLIENTS_METHOD]
    lines += ["", slow_table(results, settings), "", METHOD, "", "## Machine", ""]
    lines += [f"- {label}: {value}" for label, value in machine]
    lines += ["", HOW_TO_RUN, END, ""]
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, generated: str) -> str | None:
    """Return text with begin..end replaced; None if a marker is missing."""
    if begin not in text or end not in text:
        return None
    after = text[text.index(end) + len(end) :].lstrip("\n")
    return text[: text.index(begin)] + generated + "\n" + after


def write_document(path: Path, generated: str) -> None:
    """Replace the generated part of path, keeping what people wrote after it."""
    if path.exists():
        text = replace_between(path.read_text(), BEGIN, END, generated)
        if text is not None:
            path.write_text(text)
            return
    path.write_text(f"# Performance\n\n{generated}\n{WHERE_THE_TIME_GOES}")


METHOD = """\
## How each figure is taken

- **Uploads** stream the same file of random bytes from disk through Python's
  http.client in 1 MiB blocks. vault takes a multipart POST to `/api/v1/files`
  and tus 1.0.0 at `/api/v1/uploads` (POST, then PATCHes of 64 MiB on one
  connection); copyparty takes a multipart POST with `act=bput` and a PUT;
  nginx takes a WebDAV PUT (it has no multipart upload, so its PUT stands in
  the multipart row too). The 4 KiB uploads use the same methods, over kept-alive
  connections, 8 threads for the concurrent row; on vault they go to a second
  account, so that the account whose pages are timed holds the same files in
  every repeat.
- **fsync**: vault answers only after it has fsynced the file and its directory
  (and hashed it with SHA-256). copyparty never calls fsync (it hashes its
  uploads with SHA-512 by default) and nginx's WebDAV module writes to a temp file
  and renames it without fsync: their bytes reach the disk when the kernel
  writes them back. The bench runs `sync` before every upload measurement so that
  no server pays for another's write-back, but vault's upload figures include
  waiting for the disk and theirs do not.
- **Peak RSS** samples `/proc/<pid>/statm` of each serving process every 5 ms
  during the one-request upload (gunicorn's workers, copyparty's process,
  nginx's workers) and reports the most one of them grew above its idle size.
- **Downloads** read the file uploaded first (from the page cache); the Range
  figure is the median of 20 requests on one kept-alive connection.
- **Tiny GET**: vault answers `GET /api/v1/me` (bearer token: one indexed
  lookup, then the user's figures); copyparty serves a 256-byte file to a user
  with basic auth; nginx serves the same file statically. wrk runs one thread
  with 16 connections on the same 2 cores, so it takes CPU from the servers.
- **Folder page**: vault renders page 1 (200 rows, by name) of its HTML folder
  view of a folder with that many rows (inserted straight into the database);
  copyparty and nginx (`autoindex`) list a directory of as many empty files,
  whole, with no paging. Median of 20 requests on one kept-alive connection.
- **Warm-up**: before the first repeat every server gets a few untimed
  requests of each kind (a 1 MiB upload and its download, a folder page, the
  tiny GET) on fresh connections, so that no figure times a worker's first
  request of a kind; idle memory is read after it.
- Servers: vault with `gunicorn -c gunicorn.conf.py wsgi:app` (2 gthread workers,
  8 threads each, each listening on its own socket) on a fresh SQLite database,
  sending downloads with sendfile(2); copyparty with `--no-thumb -q`,
  one read-write volume and no index database (`-e2d` off); nginx with 2 workers,
  `sendfile on`, `access_log off`."""

SLOW_CLIENTS_METHOD = """\
Anonymous clients open connections and send one byte a second: three in four
send headers that never end, the others whole headers and then a body, to the
sign-in form (32 KiB announced) or to the upload route (1 GiB announced). A
connection the server closes comes straight back. Meanwhile a signed-in user
sends `GET /api/v1/me`, each on a fresh connection, one after another; a request
not answered within 10 s counts as 10 s in the percentiles."""

HOW_TO_RUN = """\
## How to run

`make bench` installs the `bench` extra (copyparty) and runs
`.venv/bin/python -m bench`, which starts the three servers on free ports over a
fresh temp directory, measures, prints the table and rewrites this page above
the end marker. nginx and wrk come from Debian: `apt-get install nginx wrk`;
a missing server or tool gives n/a with the reason. Every server is stopped at
the end, on Ctrl-C, and (through `PR_SET_PDEATHSIG`) if the bench is killed.

- `python -m bench --quick`: 16 MiB instead of 1 GiB, 100 small uploads,
  1 repeat, 2 s of wrk; prints the table and writes no page unless `--output`.
- `--size-mib`, `--uploads`, `--repeats`, `--wrk-seconds`, `--files`,
  `--servers vault,nginx`, `--tmp DIR` (the disk to measure; the default temp
  dir otherwise), `--output PATH`.
- `--only s3`: the S3 section alone (vault on a moto bucket against boto3;
  moto comes with the dev extra); with `--output` it rewrites only its part.
- Run it on a quiet machine: the figures are only worth the ratios between
  servers measured in the same run."""

WHERE_THE_TIME_GOES = """\
## Where the time goes

Written by hand from profiles (py-spy, pyinstrument); `make bench` leaves this
section alone.
"""
