"""Display names: checking, cleaning, comparing, and finding a free one.

Two rules for two sources. A name a person types (rename, new folder) is taken
as typed or refused with a message saying what to change: the server never
saves a name the person did not see. A name that arrives with a file (uploads,
folder paths) comes from another file system and is cleaned instead, so the
file is kept; the answer names what it was saved as.
"""

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
    _check_not_reserved(name)
    return _shorten(name)


def check_typed_name(raw: str) -> str:
    """Return a name as a person typed it, or raise InvalidName saying why not.

    Only the surrounding spaces go, and the name is NFC-normalized (which
    changes no letter anyone sees); a character `clean_display_name` would
    remove is refused instead, and so is a name over 255 bytes.
    """
    name = unicodedata.normalize("NFC", raw or "").strip()
    _check_not_reserved(name)
    for char in name:
        if char in "/\\":
            raise InvalidName(
                f"A name cannot contain “{char}”: it separates folders in a path."
            )
        if char in _BIDI_CONTROLS:
            raise InvalidName(
                "A name cannot contain invisible text-direction characters: "
                "they can make one type of file pass for another."
            )
        if unicodedata.category(char) in _DROPPED_CATEGORIES:
            raise InvalidName(
                "A name cannot contain tabs, line breaks or other control characters."
            )
    size = len(name.encode())
    if size > MAX_NAME_BYTES:
        raise InvalidName(
            f"A name can be at most {MAX_NAME_BYTES} bytes long; this one is {size}."
        )
    return name


def _check_not_reserved(name: str) -> None:
    if name == "":
        raise InvalidName("A name cannot be empty.")
    if name == ".":
        raise InvalidName("“.” cannot be a name: it means “this folder”.")
    if name == "..":
        raise InvalidName("“..” cannot be a name: it means “the folder above”.")


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
