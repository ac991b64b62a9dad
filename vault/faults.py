"""A test-only fault hook: the worker dies at a named step of the write path.

The crash tests (tests/test_faults.py) start gunicorn with VAULT_TEST_FAULT set
to a step; a worker reaching that step ends at once with `os._exit`, as if it
were killed or the power went out: no cleanup, no answer. Off unless set.

It cannot be turned on by accident in production: `check_config` refuses to
start an app that sets TEST_FAULT without also setting TESTING (Flask's test
flag, which no deployment sets), or that names a step not listed here.
"""

import os

from flask import current_app

STEPS = (
    "after-write",  # the bytes are written, not yet renamed into place
    "after-rename",  # the blob is in place, its row not yet committed
    "after-commit",  # the row is committed, the answer not yet sent
)
# The worker's exit status at a fault: gunicorn logs it.
EXIT_STATUS = 86


def check_config(config) -> None:
    """Refuse a fault hook outside tests, or one naming an unknown step."""
    step = config.get("TEST_FAULT")
    if not step:
        return
    if step not in STEPS:
        raise ValueError(f"VAULT_TEST_FAULT must be one of {', '.join(STEPS)}")
    if not config.get("TESTING"):
        raise ValueError(
            "VAULT_TEST_FAULT kills workers on purpose: it is for tests only "
            "and needs VAULT_TESTING=true as well"
        )


def reach(step: str) -> None:
    """End the process here if a test asked for a fault at `step`."""
    if current_app.config.get("TEST_FAULT") == step:
        os._exit(EXIT_STATUS)
