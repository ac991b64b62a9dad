"""Default configuration. No secrets live here: see `load_secret_key`."""


class DefaultConfig:
    # Set from the instance folder in create_app.
    SQLALCHEMY_DATABASE_URI: str | None = None
    STORAGE_DIR: str | None = None
    # Where bytes live: file:///abs/path (default: STORAGE_DIR) or s3://BUCKET/PREFIX.
    STORAGE_URL: str | None = None

    REGISTRATION = "closed"  # "open" lets anyone sign up
    # File extensions the server accepts ("pdf, jpg, docx"); empty: every file,
    # with or without an extension. Content that lies about a type we can
    # check (a ".png" that is not a PNG) is refused either way.
    ALLOWED_EXTENSIONS = ""
    MAX_UPLOAD_BYTES = "10 GB"  # a number of bytes or human units
    # Every other request body (sign-in, API JSON, forms): refused above this,
    # before it is read, so no stranger can make a worker hold a large one.
    MAX_BODY_BYTES = "64 KiB"
    DEFAULT_QUOTA = "unlimited"  # for new accounts: "10 GB" or "unlimited"
    TRASH_DAYS = 30  # deleted items are purged after this many days
    # Quota held for an upload lapses if no bytes arrive for this long (its
    # client or worker died); arriving bytes keep renewing it.
    RESERVATION_SECONDS = 15 * 60
    # A resumable (tus) upload, and the quota it holds, lasts this long after
    # its last bytes arrived; `flask --app vault cleanup` removes it then.
    UPLOAD_EXPIRY_HOURS = 24
    # Each serving process does what `cleanup` does this often (0: never):
    # expired uploads and reservations, the trash, ended share links.
    CLEANUP_SECONDS = 30 * 60
    # The browser sends files above this size with tus, in chunks of this size:
    # small enough to pass a proxy's 100 MB body limit.
    RESUMABLE_THRESHOLD_BYTES = 8 * 1024 * 1024
    RESUMABLE_CHUNK_BYTES = 8 * 1024 * 1024
    SHARE_MAX_DAYS = 90  # the longest a share link may last
    # A link that expired or was revoked stays on its owner's list this long
    # (an expired one can be given a new expiry), then the sweeper deletes it
    # with its visit log.
    ENDED_LINK_DAYS = 30

    # Werkzeug keeps non-file form fields in memory: keep them small and few. The
    # multipart parser also buffers file data against this limit, so it must stay
    # well above its 64 KiB reads (Werkzeug's default).
    MAX_FORM_MEMORY_SIZE = 500_000
    MAX_FORM_PARTS = 1000

    # argon2-cffi profile name (argon2.profiles); tests use "CHEAPEST".
    PASSWORD_HASH_PROFILE = "RFC_9106_LOW_MEMORY"  # noqa: S105 (a profile name)

    # Guessing passwords (sign-in, share links); see services/throttle.py.
    # After this many failures on one account or link, each try waits twice as
    # long as the last (1 s, 2 s, 4 s ...), at most LOGIN_BACKOFF_MAX_SECONDS.
    LOGIN_BACKOFF_AFTER = 5
    LOGIN_BACKOFF_MAX_SECONDS = 15 * 60
    LOGIN_FAILURE_WINDOW_SECONDS = 24 * 3600  # how long a failure counts
    # One client address is locked out only by this many failures within the
    # window, spread over at least this many accounts (or links).
    LOGIN_ADDRESS_MAX_FAILURES = 100
    LOGIN_ADDRESS_MIN_ACCOUNTS = 5
    LOGIN_ADDRESS_WINDOW_SECONDS = 60 * 60
    SESSION_LIFETIME_DAYS = 30

    # Number of reverse proxies whose X-Forwarded-* headers are trusted
    # (For, Proto and Host; X-Forwarded-Port is not read: the port goes in Host).
    TRUSTED_PROXIES = 0
    # The address people reach the vault at, e.g. "https://vault.example.com":
    # share, upload and password-reset links are built from it. Unset, from the
    # request's host, which must be one of TRUSTED_HOSTS (else 400).
    BASE_URL: str | None = None
    # Host names requests may carry ("a.example, b.example"; ".example" for its
    # subdomains). Unset: localhost, 127.0.0.1 and BASE_URL's host.
    TRUSTED_HOSTS = None
    # Let the proxy in front send a file's bytes once the app has checked access.
    # nginx: the URL prefix of an `internal` location aliased to STORAGE_DIR, e.g.
    # "/protected/" (see docs/deploy/nginx.conf); downloads then answer with
    # X-Accel-Redirect. Apache (mod_xsendfile) or lighttpd: SENDFILE = True answers
    # with X-Sendfile and the blob's absolute path. Zips are made on the fly and
    # always come from the app.
    ACCEL_REDIRECT: str | None = None
    SENDFILE = False
    # On a store that can sign URLs (S3): attachment downloads answer 302 to a
    # URL of the bucket, so the bytes never pass through the app. Previews and
    # thumbnails stay with the app (a bucket cannot send our sandbox CSP), and
    # so do links with a download limit (see downloads.send_blob). The browser
    # follows at once, and anyone who sees the URL can use it until it lapses:
    # a minute is short for that and still allows some clock skew between the
    # app and the store. A download that started keeps going after it.
    S3_PRESIGNED_DOWNLOADS = False
    S3_PRESIGNED_EXPIRY_SECONDS = 60

    # Mail (vault/mail.py): unset, nothing is sent and the pages say so.
    # smtp://user:password@host[:port] or smtps://... (implicit TLS).
    SMTP_URL: str | None = None
    SMTP_STARTTLS = "auto"  # smtp:// only: "auto", "required" or "off"
    MAIL_FROM: str | None = None  # "Vault <vault@example.com>"
    # Each serving process sends queued mail this often, and at once when it
    # queued some itself (0: never; then run `flask --app vault mail send`).
    MAIL_POLL_SECONDS = 30
    # An upload link's owner hears of its uploads at most once in this time.
    UPLOAD_NOTICE_MINUTES = 10
    # "Forgot your password?" mails per typed email, and per client address
    # (IPv6: its /64), within an hour.
    RESET_MAILS_PER_ACCOUNT = 3
    RESET_MAILS_PER_ADDRESS = 20

    # The app's log records (and gunicorn's access log, which reads the
    # environment variable): "text", or "json" for one JSON object a line.
    LOG_FORMAT = "text"
    # Set (16 characters at least), /metrics serves Prometheus text to requests
    # with "Authorization: Bearer <token>"; unset, there is no /metrics.
    METRICS_TOKEN: str | None = None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Static URLs carry a content hash (see views.py), so they may be cached long.
    SEND_FILE_MAX_AGE_DEFAULT = 365 * 24 * 3600
