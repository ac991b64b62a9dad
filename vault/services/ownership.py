"""The one query that loads an object for a user, with ownership inside it."""

from typing import TypeVar

from sqlalchemy import select

from vault.errors import NotFound
from vault.extensions import db
from vault.models import User
from vault.text import is_object_id

Owned = TypeVar("Owned")


def get_owned(
    model: type[Owned], object_id: str, user: User, what: str, *conditions
) -> Owned:
    """Return the user's object of `model` meeting `conditions`, or raise NotFound.

    Someone else's object is not found, exactly like a missing one: the answer
    must not tell which ids exist. Ids not of our shape never reach the database.
    """
    row = None
    if is_object_id(object_id or ""):
        row = db.session.scalar(
            select(model).where(
                model.id == object_id, model.owner_id == user.id, *conditions
            )
        )
    if row is None:
        raise NotFound(f"No such {what}.")
    return row
