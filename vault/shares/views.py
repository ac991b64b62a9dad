"""The owner's side of share links: create, list, change, revoke, read the log."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from vault.auth.forms import ConfirmForm
from vault.errors import VaultError
from vault.models import utcnow
from vault.services import shares, tree
from vault.shares import display
from vault.shares.forms import ExpiryForm, NewShareForm, PasswordForm, limits_form

bp = Blueprint("shares", __name__, url_prefix="/shares")


@bp.context_processor
def _helpers():
    now = utcnow()
    return {
        "now": now,
        "share_url": display.share_url,
        "share_status": lambda share: shares.status(share, now),
        "share_usage": shares.usage,
        "relative": lambda moment: display.relative_time(moment, now),
        "utc": display.utc,
        "outcome_label": display.outcome_label,
        "outcome_failed": display.outcome_failed,
        "max_expiry": shares.max_expiry(now),
    }


@bp.get("/")
@login_required
def index():
    return render_template(
        "shares/index.html",
        shares=shares.list_shares(current_user),
        revoke_form=ConfirmForm(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    node = tree.get_node(current_user, request.args.get("node_id", ""))
    form = NewShareForm(node)
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        now = utcnow()
        try:
            share = shares.create_share(current_user, node.id, **form.options(now))
        except VaultError as error:
            form.form_errors.append(error.message)
            status = error.status
        else:
            flash(
                "Link created. Copy it and send it to the people it is for.", "success"
            )
            return redirect(url_for("shares.detail", share_id=share.id))
    return render_template("shares/new.html", node=node, form=form), status


@bp.get("/<share_id>")
@login_required
def detail(share_id):
    return _detail_page(shares.get_share(current_user, share_id))


def _detail_page(share, status=200, **forms):
    """Render a link's page; a form that failed comes in with its errors."""
    forms.setdefault("expiry_form", ExpiryForm(formdata=None))
    forms.setdefault("password_form", PasswordForm(formdata=None))
    forms.setdefault("limits_form", limits_form(share, formdata=None, obj=share))
    page = render_template(
        "shares/detail.html",
        share=share,
        log=shares.access_log(current_user, share.id),
        log_limit=shares.LOG_LIMIT,
        revoke_form=ConfirmForm(formdata=None),
        **forms,
    )
    return page, status


def _change(share, form_name, form, message, **changes):
    """Apply a validated form's changes, or show the page again with the error."""
    try:
        shares.update_share(current_user, share.id, **changes)
    except VaultError as error:
        form.form_errors.append(error.message)
        return _detail_page(share, error.status, **{form_name: form})
    flash(message, "success")
    return redirect(url_for("shares.detail", share_id=share.id))


@bp.post("/<share_id>/expiry")
@login_required
def change_expiry(share_id):
    share = shares.get_share(current_user, share_id)
    form = ExpiryForm()
    if not form.validate_on_submit():
        return _detail_page(share, 400, expiry_form=form)
    now = utcnow()
    expires_at = form.expiry(now)
    message = f"The link now expires on {display.utc(expires_at)}."
    return _change(share, "expiry_form", form, message, expires_at=expires_at, now=now)


@bp.post("/<share_id>/password")
@login_required
def change_password(share_id):
    share = shares.get_share(current_user, share_id)
    form = PasswordForm()
    if form.validate_on_submit():
        if form.remove.data:
            message = "Password removed: anyone with the link can open it."
            return _change(share, "password_form", form, message, password=None)
        if form.password.data:
            message = "Password set: visitors must type it to open the link."
            password = form.password.data
            return _change(share, "password_form", form, message, password=password)
        form.password.errors.append("Type the new password, or remove the password.")
    return _detail_page(share, 400, password_form=form)


@bp.post("/<share_id>/limits")
@login_required
def change_limits(share_id):
    share = shares.get_share(current_user, share_id)
    form = limits_form(share, obj=share)
    if not form.validate_on_submit():
        return _detail_page(share, 400, limits_form=form)
    changes = {name: value for name, value in form.data.items() if name != "csrf_token"}
    return _change(share, "limits_form", form, "Settings saved.", **changes)


# The list's revoke buttons come back to the list; the link's page to itself.
@bp.post("/<share_id>/revoke")
@login_required
def revoke(share_id):
    share = shares.revoke_share(current_user, share_id)
    flash("Link revoked: it no longer opens for anyone.", "success")
    if request.form.get("back") == "list":
        return redirect(url_for("shares.index"))
    return redirect(url_for("shares.detail", share_id=share.id))
