"""`python -m vault`: the same as the `vault` command."""

from vault.command import main

main(prog_name="vault")
