"""Downloading a selection or a folder as one zip, streamed."""

import io
import tracemalloc
import zipfile

import pytest
import zipstream.ng
from werkzeug.http import parse_options_header

from tests.conftest import csrf_token_from

pytestmark = pytest.mark.bytes

MIB = 1024 * 1024


def open_zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/zip"
    assert int(response.headers["Content-Length"]) == len(response.data)
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None  # every CRC checks out
    return archive


def contents(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: archive.read(name) for name in archive.namelist()}


def download_name(response) -> str:
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert kind == "attachment"
    return options["filename"]


@pytest.fixture
def photos(as_alice, upload, make_folder):
    """Photos/{a.txt, Empty/, Trip/{b.txt, Deeper/c.txt}}, and a trashed file."""
    folder = make_folder(as_alice, "Photos")
    make_folder(as_alice, "Empty", folder.id)
    trip = make_folder(as_alice, "Trip", folder.id)
    deeper = make_folder(as_alice, "Deeper", trip.id)
    upload(as_alice, "a.txt", b"aaa", folder_id=folder.id)
    upload(as_alice, "b.txt", b"bbbb", folder_id=trip.id)
    upload(as_alice, "c.txt", b"c", folder_id=deeper.id)
    return folder


def test_folder_zip_holds_the_whole_tree_with_empty_folders(
    client, as_alice, photos, upload, trash_item
):
    trash_item(as_alice, upload(as_alice, "gone.txt", b"x", folder_id=photos.id))

    response = client.get(f"/folders/{photos.id}/zip")

    assert contents(open_zip(response)) == {
        "Photos/": b"",
        "Photos/Empty/": b"",
        "Photos/Trip/": b"",
        "Photos/Trip/Deeper/": b"",
        "Photos/Trip/Deeper/c.txt": b"c",
        "Photos/Trip/b.txt": b"bbbb",
        "Photos/a.txt": b"aaa",
    }
    assert download_name(response) == "Photos.zip"
    assert "no-store" in response.headers["Cache-Control"]


def test_selection_zip_holds_the_picked_files_and_folders(
    client, as_alice, photos, upload
):
    loose = upload(as_alice, "loose.txt", b"loose")
    empty = next(
        item for item in client.get(f"/api/v1/folders/{photos.id}").json["folders"]
    )

    response = client.get(f"/zip?ids={loose.id}&ids={empty['id']}")

    assert contents(open_zip(response)) == {"loose.txt": b"loose", "Empty/": b""}
    assert download_name(response) == "vault.zip"


def test_selection_zip_is_named_after_the_folder_it_was_made_in(
    client, as_alice, photos
):
    listing = client.get(f"/api/v1/folders/{photos.id}").json
    ids = [item["id"] for item in listing["files"] + listing["folders"]]

    response = client.get("/zip", query_string={"ids": ids, "folder_id": photos.id})

    assert download_name(response) == "Photos.zip"
    assert "Trip/Deeper/c.txt" in open_zip(response).namelist()


def test_someone_elses_folder_never_names_my_zip(
    client, as_alice, bob, upload, make_folder
):
    mine = upload(as_alice, "mine.txt")
    theirs = make_folder(bob, "Bob's secret folder")

    response = client.get(f"/zip?ids={mine.id}&folder_id={theirs.id}")

    assert download_name(response) == "vault.zip"


def test_picked_files_with_the_same_name_are_both_kept(
    client, as_alice, upload, make_folder
):
    first = upload(as_alice, "same.txt", b"first")
    second = upload(
        as_alice, "Same.txt", b"second", folder_id=make_folder(as_alice, "Other").id
    )

    response = client.get(f"/zip?ids={first.id}&ids={second.id}")

    assert contents(open_zip(response)) == {
        "same.txt": b"first",
        "Same (1).txt": b"second",
    }


def test_zip_without_ids_is_a_bad_request(client, as_alice):
    assert client.get("/zip").status_code == 400


@pytest.mark.parametrize("whose", ["bob's", "missing", "trashed"])
def test_zip_of_an_id_that_is_not_mine_and_live_is_not_found(
    client, as_alice, bob, upload, make_folder, trash_item, whose
):
    mine = upload(as_alice, "mine.txt")
    if whose == "bob's":
        other_id = upload(bob, "bob.txt", b"bob's secret").id
        folder_id = make_folder(bob, "Bob's folder").id
    elif whose == "missing":
        other_id = folder_id = "0" * 32
    else:
        other_id = trash_item(as_alice, upload(as_alice, "gone.txt")).id
        folder_id = trash_item(as_alice, make_folder(as_alice, "Gone")).id

    picked = client.get(f"/zip?ids={mine.id}&ids={other_id}")
    folder = client.get(f"/folders/{folder_id}/zip")

    assert picked.status_code == folder.status_code == 404
    assert b"bob's secret" not in picked.data


def test_zip_needs_sign_in(client, alice, upload):
    file = upload(alice)

    response = client.get(f"/zip?ids={file.id}")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_zip64_records_are_used_past_the_limit(client, as_alice, photos, monkeypatch):
    # Real ZIP64 needs more than 4 GiB; lowering the limit exercises the same code.
    monkeypatch.setattr(zipstream.ng, "ZIP64_LIMIT", 2)

    response = client.get(f"/folders/{photos.id}/zip")

    assert b"PK\x06\x06" in response.data  # the ZIP64 end of central directory
    assert contents(open_zip(response))["Photos/Trip/b.txt"] == b"bbbb"


def test_a_large_zip_streams_in_bounded_memory(
    client, as_alice, upload, make_folder, tmp_path
):
    folder = make_folder(as_alice, "Big")
    sizes = [16 * MIB, 24 * MIB, 24 * MIB]
    for number, size in enumerate(sizes):
        upload(
            as_alice,
            f"part{number}.txt",
            bytes([65 + number]) * size,
            folder_id=folder.id,
        )
    target = tmp_path / "download.zip"

    tracemalloc.start()
    try:
        response = client.get(f"/folders/{folder.id}/zip", buffered=False)
        with target.open("wb") as out:
            for chunk in response.response:
                out.write(chunk)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert target.stat().st_size == int(response.headers["Content-Length"])
    assert peak < 8 * MIB
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert [info.file_size for info in archive.infolist()][1:] == sizes


def test_the_toolbar_posts_its_selection_without_putting_the_token_in_a_url(
    client, as_alice, upload
):
    loose = upload(as_alice, "loose.txt", b"loose")
    token = csrf_token_from(client.get("/").text)

    response = client.post("/zip", data={"ids": loose.id, "csrf_token": token})

    assert contents(open_zip(response)) == {"loose.txt": b"loose"}
