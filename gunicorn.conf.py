"""gunicorn settings for vault: `gunicorn wsgi:app`.

Uploads are long, slow requests. Threaded workers keep answering other requests
while a few threads sit on uploads; a sync worker would be held (and killed by
its timeout) for the whole upload.
"""

import os

bind = os.environ.get("VAULT_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("VAULT_WORKERS", "2"))
threads = int(os.environ.get("VAULT_THREADS", "8"))
# A worker only times out when it stops answering gunicorn's heartbeat; with
# threads the heartbeat continues during uploads, so this bounds hangs only.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Headers only: bodies are streamed by the app.
limit_request_field_size = 16384
