from datetime import datetime, timedelta

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from vault.services.shares import MAX_NOTE, MAX_PASSWORD
from vault.units import parse_size

CUSTOM = "custom"
PRESETS = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
}
DEFAULT_PRESET = "7d"
MAX_COUNT = 2**31 - 1
WHOLE_NUMBER = "Use a whole number of at least 1, or leave it empty."
EXACT_UNITS = [
    (unit, 1000**power) for power, unit in ((4, "TB"), (3, "GB"), (2, "MB"), (1, "kB"))
] + [(unit, 1024**power) for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"))]


class SizeField(StringField):
    """Bytes, typed the way people write them: "100 MB", "2 GiB"."""

    def process_formdata(self, valuelist):
        self.typed = valuelist[0].strip()[:40] if valuelist else ""
        self.data = None
        try:
            self.data = parse_size(self.typed) if self.typed else None
        except ValueError as error:
            raise ValueError("Write a size like “100 MB” or “2 GB”.") from error
        if self.data is not None and self.data < 1:
            raise ValueError("A size must be at least 1 byte.")

    def _value(self):
        if getattr(self, "typed", None) is not None:
            return self.typed
        return exact_size(self.data) if self.data else ""


def exact_size(size: int) -> str:
    """Write a size in the largest unit that divides it, so it reads back the same."""
    for unit, factor in EXACT_UNITS:
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return str(size)


class ExpiryFields(FlaskForm):
    """An expiry from a preset or, with "custom", a date and time in UTC."""

    expires = RadioField("Expires in", default=DEFAULT_PRESET)
    expires_on = DateTimeLocalField(
        "Date and time (UTC)",
        validators=[Optional()],
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Presets beyond the configured maximum are left out.
        longest = timedelta(days=current_app.config["SHARE_MAX_DAYS"])
        self.expires.choices = [
            SelectChoice(key, label)
            for key, (label, span) in PRESETS.items()
            if span <= longest
        ] + [SelectChoice(CUSTOM, "Date and time")]
        offered = [choice.value for choice in self.expires.choices]
        if not self.expires.raw_data and self.expires.data not in offered:
            self.expires.data = offered[-2] if len(offered) > 1 else CUSTOM

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        custom = self.expires.data == CUSTOM
        if custom and self.expires_on.data is None and not self.expires_on.errors:
            self.expires_on.errors.append("Pick a date and time, or choose a preset.")
            valid = False
        return valid

    def expiry(self, now: datetime) -> datetime | None:
        """Return the chosen expiry, counted from `now` for a preset."""
        if self.expires.data == CUSTOM:
            return self.expires_on.data
        return now + PRESETS[self.expires.data][1]


class ExpiryForm(ExpiryFields):
    pass


def _max_downloads():
    return IntegerField(
        "Maximum downloads",
        validators=[Optional(), NumberRange(1, MAX_COUNT, WHOLE_NUMBER)],
        description="Leave empty for no limit.",
    )


def _max_files():
    return IntegerField(
        "Maximum number of files",
        validators=[Optional(), NumberRange(1, MAX_COUNT, WHOLE_NUMBER)],
        description="Leave empty for no limit.",
    )


def _max_file_size():
    return SizeField(
        "Maximum file size",
        validators=[Optional()],
        render_kw={"maxlength": 40},
        description="For example “100 MB”. Leave empty for no limit.",
    )


class ExtensionsField(StringField):
    """File extensions, typed as a list: "pdf, jpg, docx" (stored "docx jpg pdf")."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return ", ".join((self.data or "").split())


def _allowed_types():
    return ExtensionsField(
        "Allowed file types",
        validators=[Optional(), Length(max=1000)],
        render_kw={"placeholder": "pdf, jpg, docx"},
        description="For example “pdf, jpg, docx”. Leave empty to accept any type.",
    )


def _note():
    return TextAreaField(
        "Note for visitors",
        validators=[Optional(), Length(max=MAX_NOTE)],
        description="Shown on the link's page.",
    )


class NewShareForm(ExpiryFields):
    kind = RadioField(
        "Visitors can",
        choices=[
            SelectChoice("download", "Download"),
            SelectChoice("upload", "Upload files (a file request)"),
        ],
        default="download",
    )
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(max=MAX_PASSWORD)],
        description="Optional. Visitors must type it first.",
    )
    max_downloads = _max_downloads()
    max_file_size = _max_file_size()
    max_files = _max_files()
    allowed_types = _allowed_types()
    note = _note()

    def __init__(self, node, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a folder can receive uploads.
        if not node.is_folder:
            self.kind.choices = self.kind.choices[:1]

    def options(self, now: datetime) -> dict:
        """Return the arguments of services.shares.create_share."""
        options = {
            "kind": self.kind.data,
            "expires_at": self.expiry(now),
            "password": self.password.data or None,
            "note": self.note.data,
            "now": now,
        }
        if self.kind.data == "upload":
            options["max_file_size"] = self.max_file_size.data
            options["max_files"] = self.max_files.data
            options["allowed_types"] = self.allowed_types.data
        else:
            options["max_downloads"] = self.max_downloads.data
        return options


class PasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[Optional(), Length(max=MAX_PASSWORD)]
    )
    save = SubmitField("Set password")
    remove = SubmitField("Remove password")


class DownloadLimitsForm(FlaskForm):
    max_downloads = _max_downloads()
    note = _note()


class UploadLimitsForm(FlaskForm):
    max_file_size = _max_file_size()
    max_files = _max_files()
    allowed_types = _allowed_types()
    note = _note()


def limits_form(share, **kwargs) -> DownloadLimitsForm | UploadLimitsForm:
    """Return the form for the limits and note that fit the link's kind."""
    form_class = UploadLimitsForm if share.is_upload else DownloadLimitsForm
    return form_class(**kwargs)
