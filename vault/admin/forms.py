"""Forms of the admin pages. Filters are plain GET forms in the templates."""

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from vault.admin.display import quota_text
from vault.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from vault.services.admin import MAX_QUOTA
from vault.units import parse_size

QUOTA_HINT = "Write a size like “10 GB” or “500 MiB”, or “unlimited”."

# The audit page's filter: a group of actions by the prefix their names share.
AUDIT_GROUPS = {
    "user.": "All changes to users",
    "sign_in.": "All sign-in events",
    "password.": "All password events",
    "token.": "All API token events",
    "share.": "All share link events",
}


class QuotaField(StringField):
    """A quota typed the way people write it: "10 GB", "500 MiB", "unlimited".

    `data` holds the bytes, None meaning unlimited; `blank` tells that nothing
    was typed, which is not the same as "unlimited".
    """

    typed = ""

    def process_data(self, value):
        # Prefilled with the text to show, such as quota_text(user.quota_bytes).
        self.typed = value or ""
        self.data = parse_size(self.typed) if self.typed else None

    def process_formdata(self, valuelist):
        self.typed = valuelist[0].strip()[:40] if valuelist else ""
        self.data = None
        try:
            self.data = parse_size(self.typed)
        except ValueError as error:
            raise ValueError(QUOTA_HINT) from error
        # Said next to the field, before the service would refuse it too.
        if self.data is not None and self.data > MAX_QUOTA:
            raise ValueError("That quota is larger than vault can count.")

    @property
    def blank(self) -> bool:
        return not self.typed

    def _value(self):
        return self.typed


class InviteUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    quota = QuotaField("Quota", render_kw={"maxlength": 40})
    is_admin = BooleanField("Administrator: may manage users and see the audit log")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = quota_text(current_app.config["DEFAULT_QUOTA_BYTES"])
        self.quota.render_kw = {**self.quota.render_kw, "placeholder": default}
        self.quota.description = f"Leave empty for the default quota ({default}). "
        self.quota.description += QUOTA_HINT

    def options(self) -> dict:
        """Return the keyword arguments of admin.create_user and invite_user."""
        options = {"is_admin": self.is_admin.data}
        # Left empty, the service applies the configured default quota.
        if not self.quota.blank:
            options["quota_bytes"] = self.quota.data
        return options


class CreateUserForm(InviteUserForm):
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Choose a password of {MIN_PASSWORD_LENGTH} to "
                f"{MAX_PASSWORD_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", "The passwords differ.")],
    )


class QuotaForm(FlaskForm):
    quota = QuotaField("New quota", render_kw={"maxlength": 40}, description=QUOTA_HINT)

    def validate_quota(self, field):
        if field.blank:
            raise ValidationError(QUOTA_HINT)


class DeleteUserForm(FlaskForm):
    confirmation = StringField(
        "Type the user's email to confirm",
        validators=[DataRequired("Type the email to confirm."), Length(max=254)],
    )

    def __init__(self, email: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.confirmation.label.text = f"Type {email} to confirm"


class UnlockAddressForm(FlaskForm):
    """The button that lifts one client address's lockout."""

    address = HiddenField(validators=[DataRequired(), Length(max=64)])
