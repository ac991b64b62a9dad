"""Human-readable byte sizes."""

import re
from decimal import Decimal, localcontext

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*")


def parse_size(text: str | int | None) -> int | None:
    """Parse "10 GB", "512MiB" or 1000 into bytes; "unlimited" or None gives None."""
    if text is None or isinstance(text, int):
        return text
    if text.strip().lower() in ("", "unlimited", "none"):
        return None
    match = _SIZE.fullmatch(text.lower())
    if not match or match.group(2) not in _UNITS or len(match.group(1)) > 40:
        raise ValueError(f"not a size: {text!r}")
    # Decimal, not float: "9007199254740993" stays exact, and a long number
    # is just a big one (float would make it infinite). 40 digits times a
    # unit fit the precision, so the product is exact.
    with localcontext(prec=60):
        return int(Decimal(match.group(1)) * _UNITS[match.group(2)])


def format_size(size: int | None) -> str:
    """Format bytes the way people read them: 1.2 GB, 300 MB, 12 bytes."""
    if size is None:
        return "unlimited"
    if size < 1000:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}" if size < 100 else f"{size:.0f} {unit}"
    raise AssertionError("unreachable")
