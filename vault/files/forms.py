from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileRequired, MultipleFileField

from vault.errors import VaultError
from vault.services import files


def allowed_file_types(form, field):
    """FileAllowed over VAULT_ALLOWED_EXTENSIONS, naming the file it refuses."""
    message = None
    for upload in field.data or []:
        try:
            files.check_name_allowed(upload.filename)
        except VaultError as error:
            message = error.message
            form.refusal_status = error.status  # 415 for a type, 400 for a name
            break
    FileAllowed(sorted(files.allowed_extensions()), message)(form, field)


class UploadForm(FlaskForm):
    refusal_status = 400
    files = MultipleFileField(
        "Files",
        validators=[FileRequired("Choose at least one file."), allowed_file_types],
    )
