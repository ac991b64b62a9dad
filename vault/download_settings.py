"""The download settings that hand bytes to someone else, checked at start.

A proxy in front (VAULT_ACCEL_REDIRECT, VAULT_SENDFILE) or the store itself
(VAULT_S3_PRESIGNED_DOWNLOADS) may send a download's bytes; a setting that
cannot work stops the app from starting rather than failing on a download.
"""

import re
from collections.abc import Mapping

from vault.storage.base import PresignedUrls

# A URL path of plain segments that starts and ends with "/": the X-Accel-Redirect
# value is this prefix and the blob's path under the storage root.
_ACCEL_PREFIX = re.compile(r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*")


def check_offload_config(config: Mapping) -> None:
    """Refuse proxy offload settings that cannot work; raises ValueError."""
    prefix, sendfile = config["ACCEL_REDIRECT"], config["SENDFILE"]
    if prefix and not (isinstance(prefix, str) and _ACCEL_PREFIX.fullmatch(prefix)):
        raise ValueError(
            "VAULT_ACCEL_REDIRECT must be a URL path that starts and ends with '/', "
            f"like /protected/ (got {prefix!r})"
        )
    if sendfile not in (True, False):
        raise ValueError(f"VAULT_SENDFILE must be true or false (got {sendfile!r})")
    if prefix and sendfile:
        raise ValueError(
            "Set VAULT_ACCEL_REDIRECT (nginx) or VAULT_SENDFILE (Apache, lighttpd), "
            "not both"
        )


# SigV4 signs a URL for a week at most.
_LONGEST_PRESIGNED_SECONDS = 7 * 24 * 3600


def check_presigned_config(config: Mapping, store: object) -> None:
    """Refuse presigned download settings that cannot work; raises ValueError."""
    enabled = config["S3_PRESIGNED_DOWNLOADS"]
    expires = config["S3_PRESIGNED_EXPIRY_SECONDS"]
    if enabled not in (True, False):
        raise ValueError(
            f"VAULT_S3_PRESIGNED_DOWNLOADS must be true or false (got {enabled!r})"
        )
    if enabled and not isinstance(store, PresignedUrls):
        raise ValueError(
            "VAULT_S3_PRESIGNED_DOWNLOADS needs a store that signs URLs: "
            "set VAULT_STORAGE_URL=s3://BUCKET/PREFIX, or leave it false"
        )
    if not (type(expires) is int and 0 < expires <= _LONGEST_PRESIGNED_SECONDS):
        raise ValueError(
            "VAULT_S3_PRESIGNED_EXPIRY_SECONDS must be a whole number of seconds "
            f"from 1 to {_LONGEST_PRESIGNED_SECONDS} (got {expires!r})"
        )
