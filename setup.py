"""Build vault's wheel: the package, with templates/, static/ and migrations/ in it.

They stay at the top of the repository, where a checkout runs them from; the
build puts them into the package as vault/templates, vault/static and
vault/migrations, where an installed vault looks (vault/paths.py). Metadata
and dependencies are in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

RESOURCES = ("templates", "static", "migrations")


def resource_packages() -> dict[str, str]:
    """Map each resource folder, subfolders too, to its place in the package."""
    folders = find_namespace_packages(
        include=[f"{name}*" for name in RESOURCES], exclude=["*__pycache__"]
    )
    return {f"vault.{folder}": folder.replace(".", "/") for folder in folders}


RESOURCE_PACKAGES = resource_packages()

setup(
    packages=[*find_packages(include=["vault", "vault.*"]), *RESOURCE_PACKAGES],
    package_dir=RESOURCE_PACKAGES,
    package_data={name: ["*"] for name in RESOURCE_PACKAGES},
)
