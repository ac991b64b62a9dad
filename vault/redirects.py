"""Where a browser may be sent back to after signing in or unlocking a link.

A `next` value comes from a URL anyone can make, so following it blindly makes
us an open redirect: a link to our sign-in page that lands on a look-alike
after the password was typed. What matters is where a *browser* goes, and
browsers read more URLs as leaving the site than `urllib.parse` does.
"""

import re
from urllib.parse import unquote, urlsplit

# A browser removes these anywhere in a URL (WHATWG URL parsing) ...
_REMOVED = re.compile(r"[\t\n\r]")
# ... and these at either end: every C0 control character and the space.
_TRIMMED = "".join(chr(code) for code in range(0x21))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _as_browser_reads(target: str) -> str:
    # Browsers read "\" as "/" in http(s) URLs, so "/\evil.com" is "//evil.com".
    return _REMOVED.sub("", target.strip(_TRIMMED)).replace("\\", "/")


def _leaves_origin(path: str) -> bool:
    # Only a path that starts with one "/" stays on our origin: "//host" is
    # scheme-relative, and "https:evil.com" or "javascript:..." has a scheme.
    return not path.startswith("/") or path.startswith("//")


def local_path(target: str | None) -> str | None:
    """Return `target` as a browser would follow it if it stays on our origin.

    None for anything that could take the browser elsewhere, or that is not
    plainly a path. The path is checked again once percent-decoded: nothing we
    link to starts with an encoded slash, and a later hop that decodes it once
    ("/%2F%2Fevil.com" -> "//evil.com") must not find a way out either.
    """
    if not target:
        return None
    path = _as_browser_reads(target)
    decoded = _as_browser_reads(unquote(path))
    if _leaves_origin(path) or _leaves_origin(decoded) or _CONTROL.search(decoded):
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path
