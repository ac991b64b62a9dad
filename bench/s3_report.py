"""The S3 section's table, and its own part of docs/performance.md.

The section has markers of its own, so `python -m bench --only s3 --output
docs/performance.md` rewrites it alone and leaves the main table as it was.
"""

import os
from pathlib import Path

from bench import machine
from bench.measurements import Results, Settings
from bench.report import (
    END,
    AtLeastTimes,
    Limit,
    markdown_table,
    missing,
    number,
    ratio,
    replace_between,
    run_words,
    size_label,
)
from bench.s3 import BOTO3, VAULT
from vault.storage.s3_parts import IN_FLIGHT, PART_BYTES

BEGIN = "<!-- Written by `make bench` (bench/s3_report.py): the S3 section. -->"
S3_END = "<!-- End of the S3 section. -->"

# label, unit, operation, how each side does it, target
ROWS = (
    (
        "Upload {size} to S3, one request",
        "MB/s",
        "upload",
        ("multipart POST", "upload_fileobj"),
        AtLeastTimes(0.8, BOTO3),
    ),
    (
        "Download {size} from S3 whole",
        "MB/s",
        "download",
        ("GET", "get_object"),
        AtLeastTimes(0.8, BOTO3),
    ),
    (
        "Peak RSS of a worker during the {size} upload, above idle",
        "MiB",
        "upload_rss",
        None,
        Limit(32, "MiB"),
    ),
)

HEADER = ("operation", "vault on S3", "boto3 alone", "vault/boto3", "target", "met?")


def table_rows(results: Results, settings: Settings) -> list[tuple[str, ...]]:
    size = size_label(settings.size)
    rows = []
    for label, unit, operation, ways, target in ROWS:
        cells = {side: results.median(side, operation) for side in (VAULT, BOTO3)}
        shown = [number(cells[side], unit) for side in (VAULT, BOTO3)]
        if ways is None:
            shown[1] = "–"  # boto3 runs in the bench's own process
        else:
            shown = [
                f"{text} ({way})" if cells[side] is not None else text
                for text, way, side in zip(shown, ways, (VAULT, BOTO3), strict=True)
            ]
        met = target.met(cells)
        rows.append(
            (
                f"{label.format(size=size)} ({unit})",
                *shown,
                ratio(cells[VAULT], cells[BOTO3]) if ways else "–",
                target.describe(),
                "n/a" if met is None else ("yes" if met else "**no**"),
            )
        )
    return rows


def console(results: Results, settings: Settings) -> str:
    parts = ["S3 section:", markdown_table(HEADER, table_rows(results, settings))]
    if notes := missing(results):
        parts.append("n/a:\n" + "\n".join(f"  {line}" for line in notes))
    return "\n\n".join(parts)


def section(results: Results, settings: Settings, quick: bool) -> str:
    """Return the S3 part of docs/performance.md."""
    when, kind, repeats = run_words(quick, settings.repeats)
    lines = [
        BEGIN,
        "",
        "## Object storage (S3)",
        "",
        f"Figures from {kind} of the S3 section of `make bench` on {when} "
        f"(`python -m bench --only s3` runs it alone), each figure {repeats}.",
        "",
        markdown_table(HEADER, table_rows(results, settings)),
        "",
    ]
    if notes := missing(results):
        lines += ["Not measured:", ""] + [f"- {line}" for line in notes] + [""]
    lines += [METHOD.format(part=PART_BYTES // 2**20, in_flight=IN_FLIGHT)]
    versions = ", ".join(
        f"{name} {machine.package(name)}" for name in ("moto", "boto3", "botocore")
    )
    lines += [f"- Versions: {versions}; the machine is the one above."]
    lines += [f"- Load before the section: {_load()}", S3_END, ""]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def write_section(path: Path, generated: str) -> None:
    """Replace the S3 part of path; the first time, put it after the main table."""
    text = path.read_text() if path.exists() else f"# Performance\n\n{END}\n"
    replaced = replace_between(text, BEGIN, S3_END, generated)
    if replaced is None:
        if END in text:
            cut = text.index(END) + len(END)
            replaced = text[:cut] + "\n\n" + generated + "\n" + text[cut:].lstrip("\n")
        else:
            replaced = text.rstrip("\n") + "\n\n" + generated
    path.write_text(replaced)


METHOD = """\
- **Where**: one S3 API server, moto in server mode (`python -m moto.server`,
  the one the tests use) on 127.0.0.1, serves both sides. moto is written in
  Python and keeps each object in a spooled temporary file (in memory up to
  about 5 MiB, then on disk); a GET reads the whole object into its memory
  before sending it. So moto, on the same 2 cores, sets the pace for both
  sides: these are ratios against boto3 on this server, not figures for AWS,
  MinIO or Garage.
- **vault**: `gunicorn -c gunicorn.conf.py wsgi:app` as in the main table,
  with `VAULT_STORAGE_URL=s3://BUCKET/vault`. The upload is the main table's
  multipart POST to `/api/v1/files`, streamed into a multipart upload of
  {part} MiB parts, {in_flight} in flight (the SHA-256 checked against the
  file's); the download is `GET /api/v1/files/<id>/content`, which streams the
  object's GetObject body through the worker in 1 MiB pieces, read a piece or
  two ahead.
- **boto3 alone**, in the bench's process, with vault's client settings
  (standard retries, 32 pooled connections): `upload_fileobj` of the same file
  with {part} MiB parts (vault's part size) and boto3's default of 10 parts in
  flight; `get_object` read in 1 MiB pieces (`iter_chunks`).
- **Peak RSS** samples `/proc/<pid>/statm` of both gunicorn workers every
  5 ms during vault's upload and reports the most one grew above its idle size
  (read after a warm-up of uploads of a few parts).
- In each repeat: vault's upload, boto3's, vault's download, boto3's. Each
  side downloads the object it uploaded first; later uploads are deleted."""
