"""Where vault finds what it ships, and where an instance keeps its data."""

import os

import pytest

from tests.servers import PROJECT_ROOT
from vault import paths


@pytest.fixture
def installed(monkeypatch):
    """Look at vault as an installed package would (templates in the package)."""
    monkeypatch.setattr(paths, "INSTALLED", True)
    monkeypatch.delenv("VAULT_INSTANCE_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)


def test_a_checkout_finds_its_files_beside_the_package(monkeypatch):
    monkeypatch.delenv("VAULT_INSTANCE_DIR", raising=False)

    assert paths.INSTALLED is False
    assert paths.resource("templates") == str(PROJECT_ROOT / "templates")
    assert paths.resource("migrations") == str(PROJECT_ROOT / "migrations")
    assert paths.instance_dir() == str(PROJECT_ROOT / "instance")


def test_an_installed_vault_finds_its_files_inside_the_package(installed):
    package = PROJECT_ROOT / "vault"

    assert paths.resource("static") == str(package / "static")
    assert paths.resource("migrations") == str(package / "migrations")


def test_an_installed_vault_keeps_its_data_in_the_users_data_folder(
    installed, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path))

    assert paths.instance_dir() == str(tmp_path / ".local" / "share" / "vault")


def test_an_installed_vault_follows_xdg_data_home(installed, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    assert paths.instance_dir() == str(tmp_path / "data" / "vault")


def test_a_relative_xdg_data_home_is_ignored_as_the_spec_says(
    installed, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "data")

    assert paths.instance_dir() == str(tmp_path / ".local" / "share" / "vault")


def test_vault_instance_dir_wins_over_every_default(installed, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("VAULT_INSTANCE_DIR", str(tmp_path / "srv"))

    assert paths.instance_dir() == str(tmp_path / "srv")


def test_without_a_home_folder_an_installed_vault_asks_for_an_instance_dir(
    installed, monkeypatch
):
    # A system account may have no home; `~` then stays relative.
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)

    with pytest.raises(ValueError, match="set VAULT_INSTANCE_DIR"):
        paths.instance_dir()
