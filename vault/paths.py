"""Where vault finds the files it ships, and where an instance keeps its own.

A source checkout has templates/, static/ and migrations/ beside the package
and its instance folder in instance/. An installed vault has them inside the
package (setup.py puts them there), and keeps its instance elsewhere: an
install must never write into site-packages, which a package upgrade replaces
and a system install keeps read-only.
"""

import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKOUT_DIR = os.path.dirname(PACKAGE_DIR)
# Only a build puts the templates into the package.
INSTALLED = os.path.isdir(os.path.join(PACKAGE_DIR, "templates"))


def resource(name: str) -> str:
    """Return the folder of what vault ships: templates, static or migrations."""
    return os.path.join(PACKAGE_DIR if INSTALLED else CHECKOUT_DIR, name)


def instance_dir() -> str:
    """Return the instance folder: VAULT_INSTANCE_DIR, else the default.

    The default is `instance/` in a checkout (what `make run` uses), and the
    user's data folder for an installed vault: `$XDG_DATA_HOME/vault`, that is
    `~/.local/share/vault`, as for other programs installed with pipx. Read
    before any configuration, since the instance's config.py lives there.
    Each app server of a scaled-out deployment has its own
    (docs/deploy/scale-out.md).

    Raises ValueError for a relative VAULT_INSTANCE_DIR, or when there is no
    home folder to default to.
    """
    path = os.environ.get("VAULT_INSTANCE_DIR")
    if path:
        if not os.path.isabs(path):
            raise ValueError("VAULT_INSTANCE_DIR must be an absolute path")
        return path
    if not INSTALLED:
        return os.path.join(CHECKOUT_DIR, "instance")
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):  # unset, or relative: the XDG spec ignores it
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    if not os.path.isabs(data_home):
        raise ValueError(
            "No home folder to keep vault's data in: set VAULT_INSTANCE_DIR"
            " to an absolute path"
        )
    return os.path.join(data_home, "vault")
