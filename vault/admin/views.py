"""The administrators' pages: users, their quotas and roles, and the audit log."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from vault.admin import display
from vault.admin.forms import (
    AUDIT_GROUPS,
    CreateUserForm,
    DeleteUserForm,
    InviteUserForm,
    QuotaForm,
    UnlockAddressForm,
)
from vault.auth.forms import ConfirmForm
from vault.errors import BadRequest, NotFound, VaultError
from vault.links import external_url
from vault.services import (
    admin,
    admin_overview,
    audit,
    lockouts,
    outbox,
    quotas,
    recovery,
    trash,
)
from vault.text import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")

ORDERS = {"asc": False, "desc": True}


@bp.before_request
def _admins_only():
    # The one gate of the whole section. Signed-out visitors are sent to sign
    # in, as everywhere; a signed-in non-admin gets the very page a missing URL
    # gets, so the section does not even admit that it exists.
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_admin:
        raise NotFound()
    return None


@bp.context_processor
def _helpers():
    return {
        "quota_text": display.quota_text,
        "usage_of": quotas.usage_of,
        "changes": display.changes,
        "utc": display.utc,
        "action_labels": audit.ACTIONS,
        "listing_url": _listing_url,
        "mail_configured": outbox.configured(),
        "awaits_password": recovery.awaits_password,
    }


def _listing_url(**changes) -> str:
    """Return this page's URL with some query arguments changed; None drops one."""
    args = {**request.args.to_dict(), **changes}
    kept = {name: value for name, value in args.items() if value not in (None, "")}
    return url_for(request.endpoint, **request.view_args, **kept)


def _page_number() -> int:
    page = page_number(request.args.get("page", "1"))
    if page is None:
        raise BadRequest("That page number is not valid.")
    return page


def _user_listing_args() -> dict:
    order = request.args.get("order", "desc")
    if order not in ORDERS:
        raise BadRequest("Sort in “asc” or “desc” order.")
    return {
        "query": request.args.get("q", "").strip()[:254],
        "sort": request.args.get("sort", "usage"),
        "descending": ORDERS[order],
        "page": _page_number(),
    }


@bp.get("")
def index():
    args = _user_listing_args()
    return render_template(
        "admin/index.html",
        listing=admin_overview.list_users(**args),
        totals=admin_overview.totals(),
        address_lockouts=lockouts.address_lockouts(),
        unlock_form=UnlockAddressForm(formdata=None),
        **args,
    )


def _account_form(template: str, form, create, message: str):
    """Create an account from a valid form and show it, or show the form again."""
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            account = create()
        except VaultError as error:
            form.form_errors.append(error.message)
            status = error.status
        else:
            flash(message.format(account.email), "success")
            return redirect(url_for("admin.show_user", user_id=account.id))
    return render_template(template, form=form), status


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = CreateUserForm()
    return _account_form(
        "admin/new_user.html",
        form,
        lambda: admin.create_user(
            current_user, form.email.data, form.password.data, **form.options()
        ),
        "Account created: {} can sign in now.",
    )


@bp.route("/users/invite", methods=["GET", "POST"])
def invite_user():
    form = InviteUserForm()
    return _account_form(
        "admin/invite_user.html",
        form,
        lambda: admin.invite_user(current_user, form.email.data, **form.options()),
        "Invitation on its way to {}: they choose their password with the link "
        "in it, valid for 7 days.",
    )


@bp.get("/users/<user_id>")
def show_user(user_id):
    return _user_page(admin_overview.get_user(user_id))


def _user_page(account, status=200, **forms):
    """Render an account's page; a form that failed comes in with its errors."""
    quota = display.quota_text(account.quota_bytes)
    forms.setdefault("quota_form", QuotaForm(formdata=None, data={"quota": quota}))
    forms.setdefault("delete_form", DeleteUserForm(account.email, formdata=None))
    for name in ("status_form", "role_form", "reset_form", "unlock_form"):
        forms.setdefault(name, ConfirmForm(formdata=None))
    page = render_template(
        "admin/user.html",
        account=account,
        file_count=admin_overview.live_file_count(account),
        trash_bytes=trash.trash_bytes(account),
        backoff=lockouts.account_backoff(account),
        **forms,
    )
    return page, status


def _change(account, form_name, form, change, message):
    """Apply a change through a service, or show the page again with the error."""
    try:
        change()
    except VaultError as error:
        form.form_errors.append(error.message)
        return _user_page(account, error.status, **{form_name: form})
    flash(message, "success")
    if not current_user.is_admin:
        # They just removed their own role: this section is closed to them now.
        return redirect(url_for("files.index"))
    return redirect(url_for("admin.show_user", user_id=account.id))


@bp.post("/users/<user_id>/quota")
def set_quota(user_id):
    account = admin_overview.get_user(user_id)
    form = QuotaForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, quota_form=form)
    quota = form.quota.data
    message = f"The quota of {account.email} is now {display.quota_text(quota)}."
    return _change(
        account,
        "quota_form",
        form,
        lambda: admin.set_quota(current_user, account, quota),
        message,
    )


STATUS_MESSAGES = {
    True: "{} is disabled: signed out everywhere, with API tokens and share links "
    "turned off.",
    False: "{} is enabled again and can sign in.",
}


@bp.post("/users/<user_id>/disable", defaults={"disabled": True})
@bp.post("/users/<user_id>/enable", defaults={"disabled": False})
def set_disabled(user_id, disabled):
    account = admin_overview.get_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, status_form=form)
    return _change(
        account,
        "status_form",
        form,
        lambda: admin.set_disabled(current_user, account, disabled),
        STATUS_MESSAGES[disabled].format(account.email),
    )


ROLE_MESSAGES = {
    True: "{} is now an administrator.",
    False: "{} is no longer an administrator.",
}


@bp.post("/users/<user_id>/promote", defaults={"is_admin": True})
@bp.post("/users/<user_id>/demote", defaults={"is_admin": False})
def set_admin(user_id, is_admin):
    account = admin_overview.get_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, role_form=form)
    return _change(
        account,
        "role_form",
        form,
        lambda: admin.set_admin(current_user, account, is_admin),
        ROLE_MESSAGES[is_admin].format(account.email),
    )


@bp.post("/users/<user_id>/password-reset")
def reset_password(user_id):
    account = admin_overview.get_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, reset_form=form)
    token = admin.issue_password_reset(current_user, account)
    # Shown once, in this response only: never flashed into the session cookie
    # nor put in a URL we redirect to, where history and logs would keep it.
    link = external_url("auth.reset_password", token=token)
    page = render_template("admin/reset_link.html", account=account, link=link)
    return page, 201


@bp.post("/users/<user_id>/password-reset-mail")
def mail_password_reset(user_id):
    account = admin_overview.get_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, reset_form=form)
    return _change(
        account,
        "reset_form",
        form,
        lambda: admin.mail_password_reset(current_user, account),
        f"A link to choose a new password is on its way to {account.email}. "
        "It works once, for one hour.",
    )


@bp.post("/users/<user_id>/unlock")
def unlock_user(user_id):
    account = admin_overview.get_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(account, 400, unlock_form=form)
    lockouts.clear_account(current_user, account)
    flash(f"{account.email} can sign in again without waiting.", "success")
    return redirect(url_for("admin.show_user", user_id=account.id))


@bp.post("/addresses/unlock")
def unlock_address():
    form = UnlockAddressForm()
    if not form.validate_on_submit():
        raise BadRequest("That address is not valid.")
    lockouts.clear_address(current_user, form.address.data)
    flash(f"The address {form.address.data} is no longer locked out.", "success")
    return redirect(url_for("admin.index"))


@bp.post("/users/<user_id>/delete")
def delete_user(user_id):
    account = admin_overview.get_user(user_id)
    form = DeleteUserForm(account.email)
    if not form.validate_on_submit():
        return _user_page(account, 400, delete_form=form)
    email = account.email  # the row is gone once the deletion commits
    try:
        admin.delete_user(current_user, account, form.confirmation.data)
    except VaultError as error:
        form.form_errors.append(error.message)
        return _user_page(account, error.status, delete_form=form)
    flash(f"{email} was deleted, with all their files.", "success")
    return redirect(url_for("admin.index"))


@bp.get("/audit")
def audit_log():
    action = request.args.get("action", "")
    query = request.args.get("q", "").strip()[:254]
    return render_template(
        "admin/audit.html",
        listing=audit.list_events(action=action, query=query, page=_page_number()),
        action=action,
        query=query,
        groups=AUDIT_GROUPS,
    )
