from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from vault.files.forms import allowed_file_types


class UnlockForm(FlaskForm):
    password = PasswordField(
        "Password", validators=[DataRequired("Enter the password.")]
    )
    # Where to go once unlocked: a page of this same link (checked by the view).
    next = HiddenField()


class SendFilesForm(FlaskForm):
    refusal_status = 400
    sender = StringField(
        "Your name (optional)",
        validators=[Length(max=100, message="Keep your name under 100 characters.")],
    )
    files = MultipleFileField(
        "Files",
        validators=[FileRequired("Choose at least one file."), allowed_file_types],
    )
