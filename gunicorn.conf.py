"""gunicorn settings for a checkout: `gunicorn -c gunicorn.conf.py wsgi:app`.

The settings live in the package (vault/gunicorn_settings.py), so that an
installed vault serves with the same ones (`vault serve`).
"""

from vault.gunicorn_settings import *  # noqa: F403 (gunicorn reads every name)
