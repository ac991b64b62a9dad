"""Display names, allowed extensions and what a file's bytes and name say it is."""

import unicodedata

import pytest

from tests.factories import JPEG, PDF, PNG
from vault import create_app
from vault.errors import FileTypeNotAllowed, InvalidName
from vault.services.files import allowed_extensions, check_name_allowed
from vault.services.filetypes import content_matches, content_type_for, inline_type
from vault.services.names import check_typed_name, clean_display_name

# --- clean_display_name --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("notes.txt", "notes.txt"),
        ("  padded name.txt  ", "padded name.txt"),
        ("../../etc/passwd", "....etcpasswd"),
        ("..\\..\\boot.ini", "....boot.ini"),
        ("a\x00b.txt", "ab.txt"),
        ("tab\there\nnewline\r.txt", "tabherenewline.txt"),
        ("esc\x1b[31mred\x7f.txt", "esc[31mred.txt"),
        ("line\u2028para\u2029.txt", "linepara.txt"),
        ("Résumé 履歴書.pdf", "Résumé 履歴書.pdf"),
        ("Ωmega – ünïcode 😀.txt", "Ωmega – ünïcode 😀.txt"),
    ],
)
def test_clean_display_name_removes_only_unsafe_characters(raw, clean):
    assert clean_display_name(raw) == clean


@pytest.mark.parametrize(
    "bidi",
    [
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE
        "\u202d",  # LEFT-TO-RIGHT OVERRIDE
        "\u202a",  # LEFT-TO-RIGHT EMBEDDING
        "\u2066",  # LEFT-TO-RIGHT ISOLATE
        "\u2067",  # RIGHT-TO-LEFT ISOLATE
        "\u200f",  # RIGHT-TO-LEFT MARK
        "\u061c",  # ARABIC LETTER MARK
    ],
)
def test_clean_display_name_removes_bidi_controls(bidi):
    # "invoice<RLO>fdp.exe" would display as "invoiceexe.pdf".
    assert clean_display_name(f"invoice{bidi}fdp.exe") == "invoicefdp.exe"


def test_clean_display_name_is_nfc():
    decomposed = "Re\u0301sume\u0301.pdf"

    assert clean_display_name(decomposed) == unicodedata.normalize("NFC", decomposed)
    assert clean_display_name(decomposed) == "R\u00e9sum\u00e9.pdf"


def test_clean_display_name_is_nfc_after_removing_characters():
    # The NUL keeps "e" and the combining accent apart until it is removed.
    assert clean_display_name("e\x00\u0301.txt") == "\u00e9.txt"


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        ("a" * 296 + ".txt", "a"),
        ("é" * 300 + ".txt", "é"),
        ("履" * 100 + ".txt", "履"),
        ("😀" * 80 + ".txt", "😀"),
    ],
    ids=["ascii", "two-byte", "three-byte", "four-byte"],
)
def test_long_name_is_cut_to_255_bytes_keeping_extension(raw, start):
    name = clean_display_name(raw)

    assert len(name.encode()) <= 255
    assert len(name.encode()) > 250
    assert name.endswith(".txt")
    assert name[:-4] == start * len(name[:-4])


def test_long_name_with_huge_extension_is_still_cut():
    name = clean_display_name("a." + "b" * 300)

    assert len(name.encode()) <= 255
    assert name.startswith("a.b")


@pytest.mark.parametrize(
    "raw", ["", "   ", "/", "\x00", "\x01\x02\x03", "\u202e\u202d", None]
)
def test_clean_display_name_never_returns_an_empty_name(raw):
    with pytest.raises(InvalidName, match="A name cannot be empty."):
        clean_display_name(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (".", "“.” cannot be a name: it means “this folder”."),
        ("..", "“..” cannot be a name: it means “the folder above”."),
        (" .. ", "“..” cannot be a name: it means “the folder above”."),
    ],
)
@pytest.mark.parametrize("check", [clean_display_name, check_typed_name])
def test_dot_names_have_their_own_message(check, raw, message):
    with pytest.raises(InvalidName) as refused:
        check(raw)

    assert refused.value.message == message


def test_a_cleaned_name_that_ends_as_dot_dot_has_its_message():
    with pytest.raises(InvalidName, match="“..” cannot be a name"):
        clean_display_name("../")


# --- check_typed_name ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("notes.txt", "notes.txt"),
        ("  padded name.txt  ", "padded name.txt"),
        ("Makefile", "Makefile"),
        (".bashrc", ".bashrc"),
        ("...", "..."),
        ("Re\u0301sume\u0301.pdf", "R\u00e9sum\u00e9.pdf"),
        ("Ωmega – ünïcode 😀.txt", "Ωmega – ünïcode 😀.txt"),
        ("a" * 251 + ".txt", "a" * 251 + ".txt"),
    ],
)
def test_typed_name_is_kept_as_typed(raw, name):
    assert check_typed_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a/b.txt", "A name cannot contain “/”: it separates folders in a path."),
        ("a\\b.txt", "A name cannot contain “\\”: it separates folders in a path."),
        ("../etc", "A name cannot contain “/”: it separates folders in a path."),
        ("tab\there.txt", "A name cannot contain tabs, line breaks or other"),
        ("line\nbreak.txt", "A name cannot contain tabs, line breaks or other"),
        ("nul\x00.txt", "A name cannot contain tabs, line breaks or other"),
        ("para\u2029.txt", "A name cannot contain tabs, line breaks or other"),
        ("invoice\u202efdp.exe", "A name cannot contain invisible text-direction"),
        ("a" * 252 + ".txt", "A name can be at most 255 bytes long; this one is 256."),
        ("", "A name cannot be empty."),
        ("  ", "A name cannot be empty."),
    ],
)
def test_typed_name_the_server_would_change_is_refused(raw, message):
    with pytest.raises(InvalidName) as refused:
        check_typed_name(raw)

    assert refused.value.message.startswith(message)


# --- allowed extensions --------------------------------------------------------


@pytest.fixture
def app_with_extensions(app_config):
    """Build an app whose ALLOWED_EXTENSIONS is `extensions`; no database needed."""

    def build(extensions):
        return create_app({**app_config, "ALLOWED_EXTENSIONS": extensions})

    return build


@pytest.mark.parametrize(
    "configured",
    ["png, .TXT  csv", ["PNG", ".txt", "csv"], ("png", "txt", "csv")],
    ids=["string", "list", "tuple"],
)
def test_allowed_extensions_come_from_config(app_with_extensions, configured):
    with app_with_extensions(configured).app_context():
        assert allowed_extensions() == {"png", "txt", "csv"}


def test_allowed_extensions_come_from_environment(monkeypatch, app_config):
    monkeypatch.setenv("VAULT_ALLOWED_EXTENSIONS", "md pdf")

    with create_app(app_config).app_context():
        assert allowed_extensions() == {"md", "pdf"}


@pytest.mark.parametrize(
    "name",
    [
        "Makefile",
        "LICENSE",
        ".bashrc",
        "trailing.",
        "disk.iso",
        "setup.exe",
        "Installer.dmg",
        "firmware.bin",
        "photo.png.exe",
        "notes.txt",
    ],
)
def test_every_name_is_allowed_by_default(app, name):
    with app.app_context():
        assert allowed_extensions() == frozenset()
        assert check_name_allowed(name) == name


def test_check_name_allowed_uses_configured_extensions(app_with_extensions):
    with app_with_extensions("png").app_context():
        assert check_name_allowed("photo.PNG") == "photo.PNG"
        with pytest.raises(FileTypeNotAllowed, match=r"accepts only \.png files"):
            check_name_allowed("notes.txt")


def test_check_name_allowed_returns_cleaned_name(app):
    with app.app_context():
        assert check_name_allowed("../a\u202e\x00b.txt") == "..ab.txt"


@pytest.mark.parametrize(
    "name", ["setup.exe", "photo.png.exe", "Makefile", ".bashrc", "trailing."]
)
def test_operator_list_refuses_and_says_who_can_change_it(app_with_extensions, name):
    with (
        app_with_extensions("pdf, png").app_context(),
        pytest.raises(FileTypeNotAllowed) as refused,
    ):
        check_name_allowed(name)

    assert refused.value.message == (
        f"“{name}” was refused: this server accepts only .pdf or .png files. "
        "Its administrator can change that (VAULT_ALLOWED_EXTENSIONS)."
    )


def test_check_name_allowed_refuses_empty_name(app):
    with app.app_context(), pytest.raises(InvalidName):
        check_name_allowed("\x01\x02.\u202e")


# --- content_matches -----------------------------------------------------------


@pytest.mark.parametrize(
    ("extension", "head"),
    [
        ("png", PNG),
        ("jpg", JPEG),
        ("jpeg", JPEG),
        ("pdf", PDF),
        ("pdf", b"\xef\xbb\xbf" + PDF),
        ("gif", b"GIF89a\x01\x00"),
        ("gif", b"GIF87a\x01\x00"),
        ("webp", b"RIFF\x24\x00\x00\x00WEBPVP8 "),
        ("bmp", b"BM\x1e\x00"),
        ("tiff", b"II*\x00\x08\x00"),
        ("tif", b"MM\x00*\x00\x08"),
        ("avif", b"\x00\x00\x00\x1cftypavif"),
        ("heic", b"\x00\x00\x00\x18ftypheic"),
    ],
)
def test_content_matches_real_signatures(extension, head):
    assert content_matches(extension, head)


@pytest.mark.parametrize(
    ("extension", "head"),
    [
        ("png", JPEG),
        ("png", b"<html><script>alert(1)</script>"),
        ("png", b""),
        ("jpg", PNG),
        ("jpeg", PDF),
        ("pdf", b"just some text"),
        ("gif", PNG),
        ("webp", b"RIFF\x24\x00\x00\x00WAVEfmt "),
        ("avif", b"\x00\x00\x00\x18ftypheic"),
    ],
)
def test_content_matches_refuses_disguised_files(extension, head):
    assert not content_matches(extension, head)


@pytest.mark.parametrize("extension", ["txt", "csv", "zip", "mp3", "docx"])
def test_content_matches_accepts_types_it_cannot_check(extension):
    assert content_matches(extension, b"anything at all")


# --- inline_type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "inline"),
    [
        ("a.png", "image/png", "image/png"),
        ("a.jpg", "image/jpeg", "image/jpeg"),
        ("a.gif", "image/gif", "image/gif"),
        ("a.webp", "image/webp", "image/webp"),
        ("a.pdf", "application/pdf", "application/pdf"),
        ("a.txt", "text/plain", "text/plain; charset=utf-8"),
        ("a.md", "text/markdown", "text/plain; charset=utf-8"),
        ("a.html", "text/html", "text/plain; charset=utf-8"),
        ("a.htm", "text/html", "text/plain; charset=utf-8"),
        ("a.js", "text/javascript", "text/plain; charset=utf-8"),
        ("a.xml", "application/xml", "text/plain; charset=utf-8"),
        ("a.svg", "image/svg+xml", None),
        ("a.zip", "application/zip", None),
        ("a.mp4", "video/mp4", "video/mp4"),
        ("a.webm", "video/webm", "video/webm"),
        ("a.mp3", "audio/mpeg", "audio/mpeg"),
        ("a.ogg", "audio/ogg", "audio/ogg"),
        ("a.docx", content_type_for("a.docx"), None),
    ],
)
def test_inline_type_only_for_types_that_cannot_run_script(name, content_type, inline):
    assert inline_type(name, content_type) == inline


# --- content_type_for ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.png", "image/png"),
        ("a.JPG", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.pdf", "application/pdf"),
        ("a.txt", "text/plain"),
        ("a.html", "text/html"),
        ("a.svg", "image/svg+xml"),
        ("a.md", "text/markdown"),
        ("a.webp", "image/webp"),
        ("a.flac", "audio/flac"),
        ("a.zip", "application/zip"),
        ("a.unknownthing", "application/octet-stream"),
        ("README", "application/octet-stream"),
        (".bashrc", "application/octet-stream"),
    ],
)
def test_content_type_for_name(name, content_type):
    assert content_type_for(name) == content_type
