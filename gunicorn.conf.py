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
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads
# new connections over them. On one shared socket, whichever worker wakes
# first takes a burst of connections, and kept-alive clients stay there: one
# worker would serve them all on one core while the other idles.
reuse_port = True
# Headers only: bodies are streamed by the app.
limit_request_field_size = 16384
