"""Domain errors. Each carries the HTTP status and the code front ends show."""


class VaultError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."
    # Seconds after which trying again may succeed (the Retry-After header).
    retry_after: int | None = None

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message


class BadRequest(VaultError):
    pass


class InvalidName(VaultError):
    code = "invalid_name"
    message = "That name is not valid."


class AuthenticationFailed(VaultError):
    status = 401
    code = "invalid_credentials"
    message = "Wrong email or password."


class Unauthorized(VaultError):
    status = 401
    code = "unauthorized"
    message = "Sign in or send a valid API token."


class Forbidden(VaultError):
    status = 403
    code = "forbidden"
    message = "You are not allowed to do that."


class NotFound(VaultError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(VaultError):
    status = 409
    code = "conflict"
    message = "That conflicts with the current state."


class UploadTooLarge(VaultError):
    status = 413
    code = "too_large"
    message = "The upload is larger than the server allows."


class FileTypeNotAllowed(VaultError):
    status = 415
    code = "file_type_not_allowed"
    message = "That type of file is not allowed."


class ContentMismatch(VaultError):
    status = 415
    code = "content_mismatch"
    message = "The file's content does not match its extension."


class TooManyAttempts(VaultError):
    status = 429
    code = "too_many_attempts"

    def __init__(
        self,
        retry_after_seconds: int,
        what: str = "sign-in",
        reason: str = "Too many failed {what} attempts.",
    ):
        retry_after_seconds = max(1, retry_after_seconds)
        if retry_after_seconds < 60:
            count, unit = retry_after_seconds, "second"
        else:
            count, unit = -(-retry_after_seconds // 60), "minute"
        plural = "" if count == 1 else "s"
        super().__init__(
            f"{reason.format(what=what)} Try again in {count} {unit}{plural}."
        )
        self.retry_after = retry_after_seconds


class Gone(VaultError):
    status = 410
    code = "gone"
    message = "This link has expired or was turned off by its owner."


class QuotaExceeded(VaultError):
    status = 507
    code = "quota_exceeded"
    message = "There is not enough free space in your storage for this upload."


class StorageFull(VaultError):
    """The disk under the storage is full: the server's problem, not the quota's."""

    status = 507
    code = "storage_full"
    message = (
        "The server's storage is full; nothing of this upload was kept. "
        "Tell the administrator."
    )


class MailNotConfigured(VaultError):
    status = 409
    code = "mail_not_configured"
    message = (
        "This vault cannot send email: an administrator has not set it up. "
        "Ask an administrator instead."
    )
