from flask import g, request

from vault.api.blueprint import bp, json_body, timestamp
from vault.errors import BadRequest
from vault.services import tokens, trash


def _string(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"“{key}” must be a string.")
    return value


@bp.post("/tokens")
def create_token():
    body = json_body()
    token, secret = tokens.create_token_with_credentials(
        _string(body, "email"),
        _string(body, "password"),
        _string(body, "name"),
        request.remote_addr,
    )
    return {"id": token.id, "name": token.name, "token": secret}, 201


@bp.get("/tokens")
def list_tokens():
    return {
        "tokens": [
            {
                "id": token.id,
                "name": token.name,
                "created_at": timestamp(token.created_at),
                "last_used_at": timestamp(token.last_used_at),
            }
            for token in tokens.list_tokens(g.api_user)
        ]
    }


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id):
    tokens.revoke_token(g.api_user, token_id, request.remote_addr)
    return "", 204


@bp.get("/me")
def me():
    user = g.api_user
    return {
        "id": user.id,
        "email": user.email,
        "is_admin": user.is_admin,
        # What counts against the quota: stored files and uploads arriving.
        "used_bytes": user.charged_bytes,
        "quota_bytes": user.quota_bytes,
        "free_bytes": user.free_bytes,
        "reserved_bytes": user.reserved_bytes,
        "trash_bytes": trash.trash_bytes(user),
    }
