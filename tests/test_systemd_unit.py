"""The systemd unit the README installs (docs/deploy/vault.service)."""

import shutil
import subprocess

import pytest

from tests.servers import PROJECT_ROOT

UNIT = PROJECT_ROOT / "docs" / "deploy" / "vault.service"
README = (PROJECT_ROOT / "README.md").read_text()


def unit_entries(text: str) -> dict[str, list[tuple[str, str]]]:
    """Each section's `Key=value` lines, in order; a key may repeat (Environment)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), [])
            continue
        key, separator, value = line.partition("=")
        assert separator, f"not a Key=value line: {line!r}"
        section.append((key, value))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in section if name == key]


def test_the_unit_serves_the_installed_vault_as_its_own_user():
    service = unit_entries(UNIT.read_text())["Service"]

    assert values(service, "ExecStartPre") == ["/opt/vault/bin/vault db upgrade"]
    assert values(service, "ExecStart") == ["/opt/vault/bin/vault serve"]
    assert values(service, "User") == values(service, "Group") == ["vault"]
    assert values(service, "Type") == ["notify"]  # gunicorn calls sd_notify


def test_the_instance_folder_is_the_units_private_state_folder():
    service = unit_entries(UNIT.read_text())["Service"]
    environment = dict(value.split("=", 1) for value in values(service, "Environment"))

    assert values(service, "StateDirectory") == ["vault"]
    assert values(service, "StateDirectoryMode") == ["0700"]
    assert environment["VAULT_INSTANCE_DIR"] == "/var/lib/vault"
    assert environment["VAULT_BIND"] == "127.0.0.1:8000"  # nginx.conf's upstream
    # Everything else is read-only to vault: the state folder is all it writes.
    assert values(service, "ProtectSystem") == ["strict"]


def test_the_readme_installs_what_the_unit_runs():
    service = unit_entries(UNIT.read_text())["Service"]

    assert "python3 -m venv /opt/vault" in README
    assert "docs/deploy/vault.service" in README
    for path in values(service, "EnvironmentFile"):
        assert path in README
    assert unit_entries(UNIT.read_text())["Install"] == [
        ("WantedBy", "multi-user.target")
    ]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_analyze_finds_nothing_to_say_about_the_unit(tmp_path):
    # verify also checks that the Exec lines' program exists: point them at a
    # stand-in for the installed command, and check everything else as written.
    program = tmp_path / "vault"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    unit = tmp_path / "vault.service"
    text = UNIT.read_text()
    unit.write_text(text.replace("/opt/vault/bin/vault", str(program)))

    result = subprocess.run(  # noqa: S603 (a fixed command on our own file)
        ["systemd-analyze", "verify", str(unit)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
    )

    # verify exits 0 even for an unknown key or a bad value: it only warns.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
