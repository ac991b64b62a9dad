"""Mail that tells people what happened: security notices and upload notices.

Security notices (the password or email changed, a new API token) always go:
they are how a person learns that someone else is in their account, and
turning them off would be that someone's first move. Notices of uploads
through an upload-only link are optional (`User.notify_uploads`), and come
at most once per link every UPLOAD_NOTICE_MINUTES, listing every file since
the last one. Each function adds to the caller's transaction; nothing is
queued when mail is not configured.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from vault.extensions import db
from vault.models import ApiToken, ShareLink, User
from vault.services import outbox


def password_changed(user: User) -> None:
    outbox.queue("password_changed", user=user)


def token_created(user: User, token: ApiToken) -> None:
    outbox.queue("token_created", user=user, data={"name": token.name})


def email_changed(user: User, old_email: str) -> None:
    """Tell the old address: whoever changed it may hold the new one."""
    outbox.queue(
        "email_changed", user=user, to_address=old_email, data={"new": user.email}
    )


def uploads_received(share: ShareLink, now: datetime) -> None:
    """Queue a notice of uploads through `share`, unless one is waiting already.

    The link's `upload_notice_at` is when its latest notice goes: the next one
    goes UPLOAD_NOTICE_MINUTES after it at the earliest, and lists everything
    uploaded after it. Set with a compare-and-set UPDATE, so that uploads in
    several processes at once queue one notice between them.
    """
    owner = share.owner
    if not outbox.configured() or not owner.notify_uploads:
        return
    previous = share.upload_notice_at
    if previous is not None and previous >= now:
        return  # a notice is waiting; it will list these files too
    window = timedelta(minutes=current_app.config["UPLOAD_NOTICE_MINUTES"])
    at = now if previous is None else max(now, previous + window)
    unchanged = (
        ShareLink.upload_notice_at.is_(None)
        if previous is None
        else ShareLink.upload_notice_at == previous
    )
    taken = db.session.execute(
        update(ShareLink)
        .where(ShareLink.id == share.id, unchanged)
        .values(upload_notice_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        since = previous.isoformat() if previous else None
        outbox.queue(
            "uploads",
            user=owner,
            share=share,
            data={"since": since, "until": at.isoformat()},
            send_after=at,
        )


def set_preferences(user: User, *, notify_uploads: bool) -> User:
    """Save which optional mail the person wants."""
    user.notify_uploads = bool(notify_uploads)
    db.session.commit()
    return user
