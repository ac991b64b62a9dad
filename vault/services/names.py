"""Display names: cleaning, comparing, and finding a free one."""

import unicodedata

from vault.errors import InvalidName
from vault.services import filetypes

MAX_NAME_BYTES = 255
# Explicit direction marks and overrides: they let "evil‮gpj.exe" pose as a JPEG.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_DROPPED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def clean_display_name(raw: str) -> str:
    """Return a name fit for display; raise InvalidName if nothing is left.

    NFC-normalized, without path separators, control or bidi-override characters,
    at most 255 bytes of UTF-8 (the extension is kept when shortening). Unlike
    `secure_filename`, every other character, ASCII or not, is kept.
    """
    kept = "".join(
        char
        for char in raw or ""
        if char not in "/\\"
        and char not in _BIDI_CONTROLS
        and unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    # Normalize after filtering: a dropped character may have separated a letter
    # from its combining accent.
    name = unicodedata.normalize("NFC", kept).strip()
    if name in ("", ".", ".."):
        raise InvalidName("A name cannot be empty.")
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    extension = filetypes.extension_of(name)
    suffix = f".{extension}" if extension and len(extension) <= 16 else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    stem = name[: len(name) - len(suffix)].encode()[:room].decode(errors="ignore")
    return stem.rstrip() + suffix


def name_key(name: str) -> str:
    """Return the form names are compared in: "Report.PDF" and "report.pdf" clash."""
    return unicodedata.normalize("NFC", name).casefold()


def numbered(name: str, number: int, *, is_folder: bool = False) -> str:
    """Return "name (n).ext", the "keep both" form of a name."""
    extension = "" if is_folder else filetypes.extension_of(name)
    if extension:
        stem = name[: -len(extension) - 1]
        return _shorten(f"{stem} ({number}).{extension}")
    return _shorten(f"{name} ({number})")
