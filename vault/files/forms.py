from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileRequired, MultipleFileField
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, StopValidation

from vault.errors import VaultError
from vault.services import files


def allowed_file_types(form, field):
    """Refuse a name the server would refuse, naming the file and the reason.

    FileAllowed enforces VAULT_ALLOWED_EXTENSIONS when the operator set one;
    by default the list is empty and every type is welcome.
    """
    for upload in field.data or []:
        try:
            files.check_name_allowed(upload.filename)
        except VaultError as error:
            form.refusal_status = error.status  # 415 for a type, 400 for a name
            raise StopValidation(error.message) from error
    allowed = files.allowed_extensions()
    if allowed:
        FileAllowed(sorted(allowed))(form, field)


class UploadForm(FlaskForm):
    refusal_status = 400
    files = MultipleFileField(
        "Files",
        validators=[FileRequired("Choose at least one file."), allowed_file_types],
    )
    folder_id = HiddenField()
    on_conflict = SelectField(
        "If a name is taken",
        choices=[
            SelectChoice("rename", "Keep both"),
            SelectChoice("replace", "Replace the old file"),
        ],
        default="rename",
    )


# Explicit ids: these forms can share one page (the folder page and its
# dialogs), and a label must point at its own field.
class FolderForm(FlaskForm):
    name = StringField(
        "New folder", id="new-folder-name", validators=[DataRequired(), Length(max=255)]
    )
    parent_id = HiddenField()


class RenameForm(FlaskForm):
    name = StringField(
        "New name", id="rename-name", validators=[DataRequired(), Length(max=255)]
    )


class MoveForm(FlaskForm):
    # Choices are the person's folders, filled in by the view.
    target = SelectField("Move to", id="move-target", choices=[], validate_choice=True)
