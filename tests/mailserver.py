"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), and the mail it took."""

import contextlib
import datetime
import email
import email.policy
import ipaddress
import re
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port

USER, PASSWORD = "vault-mailer", "s3cret p@ss/word"
SENDER = "Vault <vault@vault.example>"
LINK = re.compile(r"https?://\S+/reset/[A-Za-z0-9_-]+")


class Inbox:
    """aiosmtpd's handler: keeps every message, and who signed in to send it."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[str] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        policy = email.policy.default
        message = email.message_from_bytes(envelope.content, policy=policy)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD):
            self.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def wait_for(self, count: int, timeout: float = 10) -> list:
        """Return the messages once `count` have arrived; fail after `timeout`."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: len(self.messages) >= count, timeout
            )
        assert arrived, f"{len(self.messages)} mails arrived, not {count}"
        return self.messages

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def body(message) -> str:
    """Return a mail's text with its lines joined: wrapping is not content."""
    return " ".join(message.get_content().split())


def reset_link(message) -> str:
    """Return the path of the reset link in a mail (the test client's URL)."""
    match = LINK.search(message.get_content())
    assert match, message.get_content()
    return "/reset/" + match.group(0).rsplit("/reset/", 1)[1]


class MailServer:
    def __init__(self, inbox: Inbox, port: int, scheme: str):
        self.inbox, self.port, self.scheme = inbox, port, scheme

    def settings(self, **extra) -> dict:
        """The app settings that send mail here (and the base URL links need)."""
        return {
            "SMTP_URL": f"{self.scheme}://{USER}:s3cret%20p%40ss%2Fword"
            f"@127.0.0.1:{self.port}",
            "MAIL_FROM": SENDER,
            "BASE_URL": "http://localhost",
            "MAIL_POLL_SECONDS": 0,
            **extra,
        }


@contextlib.contextmanager
def smtp_server(tls: ssl.SSLContext | None = None, mode: str = "plain"):
    """Run an SMTP server on a free port of 127.0.0.1 while the block runs.

    mode "plain": no TLS (sign-in allowed anyway: it is this machine);
    "starttls": STARTTLS offered and required before anything else;
    "smtps": TLS from the first byte.
    """
    inbox = Inbox()
    options = {"authenticator": inbox.authenticate, "auth_require_tls": False}
    if mode == "starttls":
        options.update(tls_context=tls, require_starttls=True)
    if mode == "smtps":
        options["ssl_context"] = tls
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(inbox, port, "smtps" if mode == "smtps" else "smtp")
    finally:
        controller.stop()


def self_signed_certificate(directory) -> tuple[ssl.SSLContext, str]:
    """Return a server TLS context for 127.0.0.1, and the path of its certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)
