"""What a file is: extensions, content sniffing and safe inline types."""

import mimetypes

# Built-in table only, so the answer does not depend on the host's mime.types.
_MIME = mimetypes.MimeTypes()
_EXTRA_TYPES = {
    "md": "text/markdown",
    "yaml": "application/yaml",
    "yml": "application/yaml",
    "toml": "application/toml",
    "heic": "image/heic",
    "heif": "image/heif",
    "avif": "image/avif",
    "webp": "image/webp",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "m4v": "video/mp4",
    "opus": "audio/opus",
    "m4a": "audio/mp4",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "7z": "application/x-7z-compressed",
    # mimetypes treats these as encodings of an unknown type, not as types.
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "bz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "zst": "application/zstd",
    "rs": "text/x-rust",
    "go": "text/x-go",
    "ts": "text/x-typescript",
}


def _starts_with(*prefixes: bytes):
    return lambda head: head.startswith(prefixes)


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _iso_brand(*brands: bytes):
    # ISO base media files (HEIF, AVIF) start with an "ftyp" box naming the brand.
    return lambda head: head[4:8] == b"ftyp" and head[8:12] in brands


def _is_pdf(head: bytes) -> bool:
    # Readers accept the header anywhere in the first kilobyte; we see 512 bytes.
    return b"%PDF-" in head


# Extensions whose content we can check from the first bytes.
SIGNATURES = {
    "png": _starts_with(b"\x89PNG\r\n\x1a\n"),
    "jpg": _starts_with(b"\xff\xd8\xff"),
    "jpeg": _starts_with(b"\xff\xd8\xff"),
    "gif": _starts_with(b"GIF87a", b"GIF89a"),
    "webp": _is_webp,
    "bmp": _starts_with(b"BM"),
    "tif": _starts_with(b"II*\x00", b"MM\x00*"),
    "tiff": _starts_with(b"II*\x00", b"MM\x00*"),
    "ico": _starts_with(b"\x00\x00\x01\x00"),
    "avif": _iso_brand(b"avif", b"avis"),
    "heic": _iso_brand(b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"),
    "heif": _iso_brand(b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"),
    "pdf": _is_pdf,
}

# Types a browser may render inline without running script. SVG is an image that
# can carry script, so it is never among them.
INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "application/pdf",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/x-wav",
    "audio/flac",
    "audio/mp4",
    "audio/aac",
    "audio/opus",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
}
# Shown inline as text/plain whatever their real type, so HTML or JS is inert.
TEXT_EXTENSIONS = {
    "txt", "md", "csv", "tsv", "log", "json", "xml", "yaml", "yml", "toml", "ini",
    "cfg", "conf", "html", "htm", "css", "js", "ts", "py", "rb", "go", "rs", "java",
    "c", "h", "cpp", "hpp", "cs", "php", "sh", "sql",
}  # fmt: skip


def extension_of(name: str) -> str:
    """Return the lower-case extension without the dot, or "" if there is none."""
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def parse_extensions(configured: str | list | tuple | set | None) -> frozenset[str]:
    """Read a list of extensions ("pdf, .JPG docx" or a list) as {"pdf", "jpg", ...}."""
    if not configured:
        return frozenset()
    if isinstance(configured, str):
        configured = configured.replace(",", " ").split()
    return frozenset(
        extension.strip().lower().lstrip(".")
        for extension in configured
        if extension.strip().lstrip(".")
    )


def describe_extensions(extensions: frozenset[str]) -> str:
    """Write a set of extensions for people: ".docx, .jpg or .pdf files"."""
    shown = [f".{extension}" for extension in sorted(extensions)]
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    return f"{listed} files"


def content_matches(extension: str, head: bytes) -> bool:
    """Tell whether the first bytes fit the extension (True when we cannot tell)."""
    check = SIGNATURES.get(extension)
    return check is None or check(head)


def content_type_for(name: str) -> str:
    extension = extension_of(name)
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    guessed, _ = _MIME.guess_type(f"x.{extension}", strict=False)
    return guessed or "application/octet-stream"


def preview_kind(name: str, content_type: str) -> str | None:
    """Tell how the viewer shows a file: image, video, audio, pdf, text or None."""
    shown_as = inline_type(name, content_type)
    if shown_as is None:
        return None
    if shown_as.startswith("text/"):
        return "text"
    if shown_as == "application/pdf":
        return "pdf"
    return shown_as.split("/")[0]


def inline_type(name: str, content_type: str) -> str | None:
    """Return the type to preview a file inline with, or None to force download."""
    if content_type in INLINE_TYPES:
        return content_type
    if extension_of(name) in TEXT_EXTENSIONS:
        return "text/plain; charset=utf-8"
    return None
