"""Keeping secrets out of logs: URLs, headers and free text, made safe to write.

Some URLs are bearer secrets: a share link (/s/<token>/...), a password-reset
link (/reset/<token>) and a tus upload (/api/v1/uploads/<id>) let whoever
holds them in. In a log they would be read by everyone who reads the log, and
kept for as long. Their secret part is replaced by `~` and the first 12 hex
digits of its SHA-256: for share and reset tokens that is the start of the
`token_hash` the database keeps, so an operator can still find the row.
Query values under names that look secret (and S3's presigned signatures) are
cut out the same way; Authorization, Cookie and their kin never appear.

The access log (vault/gunicorn_observe.py) and the app's own log records
(vault/logs.py) both go through here.
"""

import hashlib
import logging
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

REDACTED = "[redacted]"
# Paths whose next segment is a bearer secret, however many slashes apart. A
# segment already hashed (it starts with ~, which no token does) stays.
_SECRET_SEGMENT = re.compile(
    r"(/+(?:s|reset|api/+v1/+uploads)/+)([^~/?#\s\"'][^/?#\s\"']*)", re.IGNORECASE
)
# Query names whose values are secrets (ours, or what a proxy or S3 adds).
_SECRET_NAME = re.compile(
    r"token|secret|password|passwd|key|signature|credential|auth|session|code",
    re.IGNORECASE,
)
# In free text: "name=value" pairs whose name looks secret (the value as far
# as a URL-safe secret goes), bearer credentials and our API tokens.
_SECRET_PAIR = re.compile(
    r"((?:[\w-]*(?:token|secret|password|signature|credential)[\w-]*)=)"
    r"[A-Za-z0-9._~%+/=-]+",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(r"\b(Bearer|Basic)\s+[^\s\"',]+", re.IGNORECASE)
_API_TOKEN = re.compile(r"vault_[A-Za-z0-9_-]{8,}")
# The scheme and host of an absolute URL (a Referer, a Location).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
# What stays as it is when a decoded path is quoted again.
_PATH_SAFE = "/~!$&'()*+,;=:@"
# Request headers never written: they carry credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-csrftoken", "x-api-key"}
)
SECRET_RESPONSE_HEADERS = frozenset({"set-cookie"})


def short_hash(secret: str) -> str:
    """Return `~` and 12 hex digits of the secret's SHA-256: a name, not the key."""
    return "~" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact_path(path: str) -> str:
    """Return a decoded URL path with every bearer secret in it replaced."""
    return _SECRET_SEGMENT.sub(
        lambda match: match.group(1) + short_hash(match.group(2)), path
    )


def redact_query(query: str) -> str:
    """Return a query string with secret values cut out and secret paths hashed."""
    if not query:
        return query
    pairs = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _SECRET_NAME.search(name):
            value = REDACTED
        else:
            # A `next=/s/<token>` carries a link too.
            value = redact_path(value)
        pairs.append((name, value))
    return urlencode(pairs, safe="/~[]:")


def redact_target(raw: str) -> str:
    """Return a request target or URL (absolute or not) safe to log.

    The path is judged decoded, so `/%73/<token>` (which Flask routes as
    `/s/<token>`) is caught as well; a target starting `//` is a path, not a
    host (urlsplit would take `//s//<token>` for the host `s`).
    """
    if "%" not in raw and "?" not in raw and not _SECRET_SEGMENT.search(raw):
        return raw  # most requests: nothing encoded, nothing secret
    origin = _ORIGIN.match(raw)
    prefix = origin.group(0) if origin else ""
    path, mark, query = raw[len(prefix) :].partition("?")
    path = quote(redact_path(unquote(path.partition("#")[0])), safe=_PATH_SAFE)
    return prefix + path + (mark + redact_query(query.partition("#")[0]))


def redact_text(text: str) -> str:
    """Return free text (a log message) with every secret we can recognise cut out."""
    text = _SECRET_SEGMENT.sub(
        lambda match: match.group(1) + short_hash(match.group(2)), text
    )
    text = _SECRET_PAIR.sub(lambda match: match.group(1) + REDACTED, text)
    text = _CREDENTIALS.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    return _API_TOKEN.sub("vault_" + REDACTED, text)


def redact_header(name: str, value: str, secret_names=SECRET_HEADERS) -> str:
    """Return a header's value as a log may show it."""
    if name.lower() in secret_names:
        return REDACTED
    return redact_text(value)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record's text without its secrets.

    On the handler, not the logger: records of child loggers (vault.services.x)
    pass a handler's filters but not a parent logger's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # What the formatter would print, made safe before it does.
            record.exc_text = redact_text(
                logging.Formatter().formatException(record.exc_info)
            )
        return True
