"""Refuse or neutralise header and query values that no honest client sends.

These run early, for every route (static files included), after only the
Host check (vault/links.py), the body limit and the sweeper's start, so that
an absurd value gets a 400 or is ignored, never a 500 further in.
"""

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.http import parse_date

# Dates that conditional requests carry; If-Range may instead be an ETag.
_DATE_HEADERS = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
    app.before_request(drop_unreadable_dates)


def refuse_nul() -> None:
    """Refuse NUL in the query string or a header value (RFC 9110 5.5)."""
    # PostgreSQL refuses NUL in text outright, so one in a search or a
    # User-Agent would otherwise fail deep inside a query.
    if any("\x00" in key + value for key, value in request.args.items(multi=True)):
        raise BadRequest("The address contains a NUL character.")
    if any("\x00" in name + value for name, value in request.headers):
        raise BadRequest("A header contains a NUL character.")


def drop_unreadable_dates() -> None:
    """Ignore conditional dates that do not parse, as RFC 9110 asks.

    werkzeug returns None for most bad dates but lets an absurd year or time
    zone offset raise OverflowError. An If-Range that cannot match makes the
    Range ignored too (the whole content is sent, as for a stale If-Range).
    """
    for key in _DATE_HEADERS:
        value = request.environ.get(key, "").strip()
        if not value or value.endswith('"'):
            continue
        try:
            parse_date(value)
        except OverflowError:
            del request.environ[key]
            if key == "HTTP_IF_RANGE":
                request.environ.pop("HTTP_RANGE", None)
