"""How much of a link's download limit each response uses up.

A link's limit counts whole copies, and it is charged by the bytes that leave,
not by requests, so that fetching a file in Range pieces costs as much as
fetching it whole. The unit is a millionth of a download: the bytes [a, b) of
a file of size S cost ceil(b·U/S) − ceil(a·U/S) units (at least one for any
bytes at all), so pieces that together make the file cost exactly one
download, and a download that stopped early and is resumed costs one in all.
A zip costs the same way by its own bytes; an empty file costs one download.
A response claims the cost of everything it is about to send before sending
a byte, in one conditional UPDATE (so parallel requests can never together
pass the limit), and gives back the part it did not hand to the server.

What was handed to the server may not all have arrived (the visitor's
connection broke, with some of it in flight), so a download resumed after a
break overlaps what was charged. For that the limit has an allowance of 4 MiB
of the file asked for, at most a twentieth of it: a link limited to N
downloads lets at most N whole copies out, and never more than 4 MiB (or 5%)
of one more.
"""

from datetime import datetime

from sqlalchemy import BigInteger, cast, or_, update

from vault.errors import Gone
from vault.extensions import db
from vault.models import ShareLink, utcnow

# One whole download, in the units ShareLink.download_units counts.
UNIT = 1_000_000
# Room for the overlap of a resumed download: 4 MiB of the file, at most 5%.
ALLOWANCE_BYTES = 4 * 1024 * 1024
MAX_ALLOWANCE = UNIT // 20


def cost(start: int, stop: int, size: int) -> int:
    """Return the units that the bytes [start, stop) of a `size`-byte item use."""
    if size == 0:
        return UNIT
    if stop <= start:
        return 0
    return max(1, _ceil_div(stop * UNIT, size) - _ceil_div(start * UNIT, size))


def allowance(size: int) -> int:
    """Return the units a link may pass its limit by for an item of `size`."""
    return min(cost(0, ALLOWANCE_BYTES, size), MAX_ALLOWANCE)


def unsent(start: int, stop: int, size: int, sent: int) -> int:
    """Return the units to give back when only `sent` bytes of [start, stop) left."""
    return cost(start, stop, size) - cost(start, start + sent, size)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def claim(share: ShareLink, units: int, size: int, now: datetime | None = None) -> None:
    """Count `units` of an item of `size` bytes, or raise Gone if they do not fit.

    The caller commits (the log line of the download goes with it).
    """
    now = now or utcnow()
    claimed = db.session.execute(
        update(ShareLink)
        .where(
            ShareLink.id == share.id,
            ShareLink.open_at(now),
            or_(
                ShareLink.max_downloads.is_(None),
                ShareLink.download_units + units
                <= cast(ShareLink.max_downloads, BigInteger) * UNIT + allowance(size),
            ),
        )
        .values(download_units=ShareLink.download_units + units)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise Gone(
            "This link has reached its download limit, or what is left of it "
            "does not cover this download."
        )


def give_back(share_id: str, units: int) -> None:
    """Return units claimed for bytes that were never sent; the caller commits."""
    db.session.execute(
        update(ShareLink)
        .where(ShareLink.id == share_id, ShareLink.download_units >= units)
        .values(download_units=ShareLink.download_units - units)
        .execution_options(synchronize_session=False)
    )


def downloads_used(share: ShareLink) -> int | float:
    """Return the downloads a link has used: whole, or to a hundredth (never 0
    for a link that sent anything, never rounded up to a whole one)."""
    units = share.download_units or 0
    if units % UNIT == 0:
        return units // UNIT
    return max(1, units * 100 // UNIT) / 100


def downloads_left(share: ShareLink) -> int | float | None:
    """Return how many downloads a limited link has left, as `downloads_used`."""
    if share.max_downloads is None:
        return None
    units = max(share.max_downloads * UNIT - (share.download_units or 0), 0)
    if units % UNIT == 0:
        return units // UNIT
    return units * 100 // UNIT / 100


def used_up(share: ShareLink) -> bool:
    """Tell whether a limited link has let out all the copies it allows."""
    return share.max_downloads is not None and (
        (share.download_units or 0) >= share.max_downloads * UNIT
    )
