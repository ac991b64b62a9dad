"""`make bench`: vault measured side by side with copyparty and nginx.

Run it with `.venv/bin/python -m bench` from the repository root (see
`python -m bench --help` and docs/performance.md).
"""
