"""Search by name across all of my folders."""

import re

import pytest

from tests.helpers import linked_ids, node


def search(client, query) -> list[str]:
    """Return the names found, in the order shown."""
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200
    return [node(client.application, found).name for found in linked_ids(response.text)]


def result_folders(page: str) -> list[str]:
    """The folder column of each result, in order."""
    rows = re.findall(r"<tr>\s*<td class=\"name\">.*?</tr>", page, re.S)
    folders = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1] for row in rows]
    return [re.sub(r"<[^>]+>", "", folder).strip() for folder in folders]


def test_finds_names_in_any_folder_case_insensitively(
    client, as_alice, upload, make_folder
):
    work = make_folder(as_alice, "Work")
    year = make_folder(as_alice, "2024", work.id)
    upload(as_alice, "Budget.txt", folder_id=year.id)
    upload(as_alice, "old budget.txt")
    make_folder(as_alice, "BUDGETS", work.id)
    upload(as_alice, "notes.txt", folder_id=year.id)

    page = client.get("/search?q=bUdGeT").text

    assert search(client, "bUdGeT") == ["BUDGETS", "Budget.txt", "old budget.txt"]
    assert result_folders(page) == ["Work", "Work/2024", "My files"]
    assert f'href="/folders/{year.id}"' in page


def test_accents_and_non_latin_names_are_found(client, as_alice, upload):
    upload(as_alice, "Résumé 履歴書.txt")

    assert search(client, "RÉSUMÉ 履歴") == ["Résumé 履歴書.txt"]


@pytest.mark.parametrize(
    ("query", "found"),
    [("%", ["100%.txt"]), ("_", ["a_b.txt"]), ("a_b", ["a_b.txt"]), ("\\", [])],
)
def test_wildcards_in_the_query_are_matched_literally(
    client, as_alice, upload, query, found
):
    for name in ("100%.txt", "a_b.txt", "axb.txt", "plain.txt"):
        upload(as_alice, name)

    assert search(client, query) == found


def test_other_peoples_files_never_appear(client, alice, bob, auth, upload):
    upload(alice, "shared-name alice.txt")
    upload(bob, "shared-name bob.txt")
    auth.login("bob@example.com")

    assert search(client, "shared-name") == ["shared-name bob.txt"]


def test_trashed_items_are_not_found(client, as_alice, upload, trash_item):
    trash_item(as_alice, upload(as_alice, "gone.txt"))
    upload(as_alice, "kept.txt")

    assert search(client, ".txt") == ["kept.txt"]


def test_no_match_says_so(client, as_alice, upload):
    upload(as_alice, "notes.txt")

    assert search(client, "nothing-like-it") == []
    assert (
        "Nothing matches “nothing-like-it”."
        in client.get("/search?q=nothing-like-it").text
    )


def test_a_blank_query_shows_only_the_form(client, as_alice, upload):
    upload(as_alice, "notes.txt")

    assert search(client, "   ") == []
    assert "Nothing matches" not in client.get("/search?q=+++").text


def test_search_needs_sign_in(client, alice):
    response = client.get("/search?q=x")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
