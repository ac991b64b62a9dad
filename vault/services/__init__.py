"""Use cases as plain functions, shared by every front end.

Services take the acting user explicitly, return models and raise VaultErrors.
They never touch `request`, `session`, `flash`, `url_for`, `abort` or
`current_user` (tests/test_architecture.py keeps that true).
"""
