"""Small helpers for text: checks on what people send us, counts in messages."""

import re
import unicodedata

_OBJECT_ID = re.compile(r"[0-9a-f]{32}")


def has_control_characters(text: str) -> bool:
    # NUL and friends have no place in emails or names, and PostgreSQL refuses
    # NUL in text outright.
    return any(unicodedata.category(char) == "Cc" for char in text)


def is_object_id(text: str) -> bool:
    """Tell whether text has the shape of our ids (see models.new_id)."""
    return bool(_OBJECT_ID.fullmatch(text))


def page_number(text: str) -> int | None:
    """Read a page number from a query string: 1 to 999,999, else None."""
    # isascii: "²".isdigit() is true, but int("²") fails.
    if text.isascii() and text.isdigit() and len(text) < 7 and int(text) > 0:
        return int(text)
    return None


def plural(count: int, noun: str) -> str:
    """Return "1 file", "2 files": a count with its noun, for messages."""
    return f"{count} {noun}{'s' if count != 1 else ''}"
