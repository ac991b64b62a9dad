"""API tokens: shown once, stored as a hash, revocable at once."""

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from vault import security
from vault.errors import BadRequest
from vault.extensions import db
from vault.models import ApiToken, User, new_id, utcnow
from vault.services import accounts, audit, notices
from vault.services.access import get_owned
from vault.text import has_control_characters

TOKEN_PREFIX = "vault_"  # noqa: S105 (marks a token when it leaks)
# Recording every use would turn each API read into a write; a minute is precise
# enough for "last used".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_token(
    user: User, name: str, client_address: str | None = None
) -> tuple[ApiToken, str]:
    """Create a token; return it with its secret, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100 or has_control_characters(name):
        raise BadRequest("Give the token a name of 1 to 100 printable characters.")
    secret = security.new_token(TOKEN_PREFIX)
    token = ApiToken(
        id=new_id(), owner_id=user.id, name=name, token_hash=security.hash_token(secret)
    )
    db.session.add(token)
    audit.record(
        "token.created",
        actor=user,
        target=token,
        after={"name": token.name},
        address=client_address,
    )
    notices.token_created(user, token)
    db.session.commit()
    return token, secret


def create_token_with_credentials(
    email: str, password: str, name: str, client_address: str | None
) -> tuple[ApiToken, str]:
    """Sign in with a password and create a token (the API's entry point).

    Two use cases, two transactions: the sign-in (its throttle count, the time
    of the last sign-in) stands even if the token is then refused.
    """
    user = accounts.authenticate(email, password, client_address)
    return create_token(user, name, client_address)


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.owner_id == user.id)
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(user: User, token_id: str, client_address: str | None = None) -> None:
    """Delete one of the user's tokens; NotFound for anyone else's."""
    token = get_owned(ApiToken, token_id, user, "token")
    audit.record(
        "token.revoked",
        actor=user,
        target=token,
        before={"name": token.name},
        address=client_address,
    )
    db.session.delete(token)
    db.session.commit()


# Every API request comes through here: one query for the token and its user,
# built once (building a statement costs more than running it on SQLite).
_TOKEN_USER = (
    select(User, ApiToken.id, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.owner_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def user_for_token(secret: str, now: datetime | None = None) -> User | None:
    """Return the enabled user a token secret belongs to, or None."""
    now = now or utcnow()
    row = db.session.execute(
        _TOKEN_USER, {"token_hash": security.hash_token(secret)}
    ).first()
    if row is None or row.User.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        db.session.execute(
            update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
        )
        db.session.commit()
    return row.User
