"""Sending one email over SMTP, as VAULT_SMTP_URL says: the transport, no content.

`smtps://` is implicit TLS (port 465 by default). `smtp://` (port 587 by
default) follows VAULT_SMTP_STARTTLS: "auto" upgrades when the server offers
STARTTLS, "required" sends nothing to a server that does not, "off" never
upgrades (a relay on this machine). Certificates are checked against the
system's authorities, always. A user name and password are never sent over a
connection without TLS, except to a loopback address, where nobody can listen:
a server that stops offering STARTTLS cannot make us hand them out in clear.

Nothing here logs: the caller logs failures through `describe_failure`, which
keeps the password out of whatever the server answered.
"""

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

STARTTLS_MODES = ("auto", "required", "off")
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
# Long enough for a slow relay, short enough that a dead one does not keep the
# sender thread (never a request) for minutes.
TIMEOUT_SECONDS = 30


class MailFailed(Exception):
    """The server refused the message or could not be reached."""


@dataclass(frozen=True)
class SmtpSettings:
    implicit_tls: bool
    host: str
    port: int
    username: str | None
    password: str | None = None
    starttls: str = "auto"

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debuggers: never show the password.
        return (
            f"SmtpSettings({'smtps' if self.implicit_tls else 'smtp'}://"
            f"{self.host}:{self.port}, user={self.username!r})"
        )


def parse_settings(url: str, starttls: str = "auto") -> SmtpSettings:
    """Return the settings of VAULT_SMTP_URL; raise ValueError if it is not one."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port == -1:
        raise ValueError(
            "VAULT_SMTP_URL must be smtp://user:password@host[:port] or "
            "smtps://user:password@host[:port]"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("VAULT_SMTP_URL takes no path or query; see the README")
    if starttls not in STARTTLS_MODES:
        raise ValueError("VAULT_SMTP_STARTTLS must be auto, required or off")
    return SmtpSettings(
        implicit_tls=parts.scheme == "smtps",
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
    )


def check_sender(address: str | None) -> str:
    """Return VAULT_MAIL_FROM; raise ValueError unless it holds one address."""
    _, email = parseaddr(address or "")
    if "@" not in email or any(char in (address or "") for char in "\r\n"):
        raise ValueError(
            "VAULT_MAIL_FROM must be an address such as vault@example.com "
            'or "Vault <vault@example.com>" when VAULT_SMTP_URL is set'
        )
    return address.strip()


def check_config(config) -> SmtpSettings | None:
    """Return the SMTP settings (None: no mail); raise ValueError if unusable.

    Mail needs VAULT_BASE_URL: links in it are built by the background sender,
    away from any request, and must never take a Host a client sent (a reset
    link pointing at someone else's server is the classic way to steal one).
    """
    if not config.get("SMTP_URL"):
        return None
    settings = parse_settings(config["SMTP_URL"], config.get("SMTP_STARTTLS", "auto"))
    config["MAIL_FROM"] = check_sender(config.get("MAIL_FROM"))
    if not config.get("BASE_URL"):
        raise ValueError("VAULT_SMTP_URL needs VAULT_BASE_URL: links in mail use it")
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.implicit_tls:
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=context
        )
    client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
    try:
        client.ehlo()
        offered = client.has_extn("starttls")
        if settings.starttls == "required" and not offered:
            raise MailFailed("the server does not offer STARTTLS, which is required")
        if offered and settings.starttls != "off":
            client.starttls(context=context)
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def _encrypted(client: smtplib.SMTP) -> bool:
    return isinstance(client.sock, ssl.SSLSocket)


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; raise MailFailed with a reason safe to log."""
    try:
        with _connect(settings) as client:
            if settings.username:
                if not (_encrypted(client) or _is_loopback(settings.host)):
                    raise MailFailed(
                        "not sending the SMTP password over a connection without TLS"
                    )
                client.login(settings.username, settings.password or "")
            client.send_message(message)
    except MailFailed:
        raise
    except (OSError, smtplib.SMTPException) as error:
        raise MailFailed(describe_failure(error, settings)) from error


def describe_failure(error: BaseException, settings: SmtpSettings) -> str:
    """Say what went wrong in a line fit for a log: no password, however echoed."""
    text = f"{type(error).__name__}: {error}"
    if settings.password:
        text = text.replace(settings.password, "***")
    return " ".join(text.split())[:300]
