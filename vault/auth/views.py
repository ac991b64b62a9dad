from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from vault.auth.forms import (
    AccountForm,
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    NoticesForm,
    ResetPasswordForm,
    TokenForm,
)
from vault.errors import VaultError
from vault.extensions import csrf
from vault.front_ends import retry_after
from vault.redirects import local_path
from vault.services import accounts, notices, outbox, recovery, sessions, tokens

bp = Blueprint("auth", __name__)


def _sign_in(user, remember: bool) -> None:
    sessions.start_session(user, request.user_agent.string)
    login_user(user, remember=remember)


def _next_page() -> str:
    return local_path(request.args.get("next")) or url_for("files.index")


def _form_page(template: str, form, **context):
    # A submitted form that fails validation is bad input: say so with 400.
    status = 400 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


def _form_failed(template: str, form, error: VaultError, **context):
    form.form_errors.append(error.message)
    response = current_app.make_response(
        render_template(template, form=form, **context)
    )
    response.status_code = error.status
    response.headers.update(retry_after(error))
    return response


SETUP_PAGE = {
    "heading": "Welcome to vault",
    "intro": "Create the first account. It becomes the administrator of this vault.",
    "button": "Create administrator",
}
SIGN_UP_PAGE = {
    "heading": "Create an account",
    "button": "Sign up",
    "sign_in_link": True,
}


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if accounts.has_users():
        return redirect(url_for("auth.login"))
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_first_admin(form.email.data, form.password.data)
        except VaultError as error:
            return _form_failed("auth/new_account.html", form, error, **SETUP_PAGE)
        _sign_in(user, remember=False)
        flash("Welcome! Your administrator account is ready.", "success")
        return redirect(url_for("files.index"))
    return _form_page("auth/new_account.html", form, **SETUP_PAGE)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if not accounts.registration_open():
        abort(404)
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.register(form.email.data, form.password.data)
        except VaultError as error:
            return _form_failed("auth/new_account.html", form, error, **SIGN_UP_PAGE)
        _sign_in(user, remember=False)
        return redirect(url_for("files.index"))
    return _form_page("auth/new_account.html", form, **SIGN_UP_PAGE)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("files.index"))
    form = LoginForm()
    page = {
        "registration_open": accounts.registration_open(),
        "mail_configured": outbox.configured(),
    }
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                form.email.data, form.password.data, request.remote_addr
            )
        except VaultError as error:
            return _form_failed("auth/login.html", form, error, **page)
        _sign_in(user, remember=form.remember.data)
        return redirect(_next_page())
    return _form_page("auth/login.html", form, **page)


RESET_MAIL_SENT = (
    "If an account has the address {}, a link to choose a new password is on "
    "its way. It works once, for one hour."
)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    page = {"mail_configured": outbox.configured()}
    if not form.validate_on_submit():
        return _form_page("auth/forgot_password.html", form, **page)
    try:
        recovery.request_password_reset(form.email.data, request.remote_addr)
    except VaultError as error:
        return _form_failed("auth/forgot_password.html", form, error, **page)
    # The same words for every address: the page must not tell who has an account.
    flash(RESET_MAIL_SENT.format(form.email.data.strip()), "success")
    return redirect(url_for("auth.login"))


@bp.post("/logout")
@login_required
def logout():
    sessions.end_session(current_user.session_token)
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


def _account_page(status=200, **context):
    context.setdefault("password_form", ChangePasswordForm())
    context.setdefault("token_form", TokenForm())
    context.setdefault("email_form", ChangeEmailForm(formdata=None))
    context.setdefault("notices_form", NoticesForm(formdata=None, obj=current_user))
    page = render_template(
        "auth/account.html",
        tokens=tokens.list_tokens(current_user),
        confirm_form=ConfirmForm(),
        mail_configured=outbox.configured(),
        **context,
    )
    return page, status


@bp.get("/account")
@login_required
def account():
    return _account_page()


@bp.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(400, password_form=form)
    try:
        accounts.change_password(
            current_user,
            form.current_password.data,
            form.new_password.data,
            request.remote_addr,
        )
    except VaultError as error:
        form.form_errors.append(error.message)
        return _account_page(error.status, password_form=form)
    # Every session was revoked, this one included; keep this browser signed in.
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    remembered = remember_cookie in request.cookies
    _sign_in(current_user._get_current_object(), remember=remembered)
    flash("Your password was changed. Other devices have been signed out.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/email")
@login_required
def change_email():
    form = ChangeEmailForm()
    if not form.validate_on_submit():
        return _account_page(400, email_form=form)
    try:
        accounts.change_email(
            current_user,
            form.current_password.data,
            form.new_email.data,
            request.remote_addr,
        )
    except VaultError as error:
        form.form_errors.append(error.message)
        return _account_page(error.status, email_form=form)
    flash(f"Your email is now {current_user.email}.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/notices")
@login_required
def change_notices():
    form = NoticesForm()
    if not form.validate_on_submit():
        return _account_page(400, notices_form=form)
    notices.set_preferences(current_user, notify_uploads=form.notify_uploads.data)
    flash("Your mail settings were saved.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/tokens")
@login_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return _account_page(400, token_form=form)
    token, secret = tokens.create_token(
        current_user, form.name.data, request.remote_addr
    )
    # Shown once, in this response only: never flashed into the session cookie.
    return _account_page(201, new_token=token, new_secret=secret)


@bp.post("/account/tokens/<token_id>/revoke")
@login_required
def revoke_token(token_id):
    tokens.revoke_token(current_user, token_id, request.remote_addr)
    flash("The token was revoked.", "success")
    return redirect(url_for("auth.account"))


@bp.after_request
def _hide_reset_links(response):
    # Every answer for a reset link, error pages included: the secret is in the
    # URL, so no Referer may carry it to another site, nor a search engine keep it.
    if request.endpoint == "auth.reset_password":
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
    return response


# The form's own token checks CSRF. The global check would also demand a
# Referer from this site over HTTPS, which this page never sends (see above).
@bp.route("/reset/<token>", methods=["GET", "POST"])
@csrf.exempt
def reset_password(token):
    accounts.password_reset_for(token)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _form_page("auth/reset_password.html", form)
    try:
        accounts.reset_password_with_token(
            token, form.new_password.data, client_address=request.remote_addr
        )
    except VaultError as error:
        return _form_failed("auth/reset_password.html", form, error)
    flash("Your password was changed. Sign in with the new one.", "success")
    return redirect(url_for("auth.login"))
