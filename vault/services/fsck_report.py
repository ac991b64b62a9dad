"""fsck's report: the kinds of problem, what was found and what was repaired.

Also what every check shares: reading rows in batches, and how sizes and times
are written in messages.
"""

from dataclasses import dataclass, field
from datetime import datetime

from vault.extensions import db
from vault.units import format_size

# Every kind of problem, in the order they are reported.
KINDS = (
    "missing_blob",
    "wrong_size",
    "wrong_hash",
    "missing_thumbnail",
    "orphan_blob",
    "stray_file",
    "orphan_namespace",
    "stale_partial",
    "stale_upload",
    "stale_reservation",
    "usage_drift",
    "reserved_drift",
    "tree_cycle",
    "orphan_node",
)
REPAIRABLE = set(KINDS) - {"missing_blob", "wrong_size", "wrong_hash"}
BATCH_SIZE = 500


@dataclass
class Problem:
    kind: str
    message: str
    # What was done about it, once repaired.
    repair: str | None = None

    @property
    def repaired(self) -> bool:
        return self.repair is not None


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    # lost+found directories that received something during this check.
    lost_found_dirs: set[str] = field(default_factory=set)
    # What the lost+found areas hold after the check, this run's moves included.
    lost_found_files: int = 0
    lost_found_bytes: int = 0

    def add(self, kind: str, message: str) -> Problem:
        problem = Problem(kind, message)
        self.problems.append(problem)
        return problem

    def by_kind(self) -> dict[str, list[Problem]]:
        grouped = {kind: [] for kind in KINDS}
        for problem in self.problems:
            grouped[problem.kind].append(problem)
        return {kind: found for kind, found in grouped.items() if found}

    @property
    def repaired_count(self) -> int:
        return sum(1 for problem in self.problems if problem.repaired)

    @property
    def repairable_count(self) -> int:
        return sum(1 for problem in self.problems if problem.kind in REPAIRABLE)


def in_batches(query, key):
    """Yield the rows of `query` by increasing `key`, its first column.

    Keyset pagination, ending the read transaction after each batch: a large
    vault is never held in memory, nor one transaction open while hashing.
    The commit takes along the repairs the caller made on the batch before:
    fsck commits as it goes, so what it repaired stays repaired if it stops.
    """
    last = None
    while True:
        page = query.order_by(key).limit(BATCH_SIZE)
        if last is not None:
            page = page.where(key > last)
        rows = db.session.execute(page).all()
        db.session.commit()
        yield from rows
        if len(rows) < BATCH_SIZE:
            return
        last = rows[-1][0]


def size_text(size: int) -> str:
    exact = f"{size:,} byte" if size == 1 else f"{size:,} bytes"
    return exact if size < 1000 else f"{exact} ({format_size(size)})"


def time_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
