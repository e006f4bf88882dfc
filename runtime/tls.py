"""TLS for the servers: certificate files per site, `tls internal`, SNI selection.

Input: the app's `TLSConfig`; output: one `ssl.SSLContext` for TLS
listeners whose `sni_callback` switches to the context holding the
certificate for the requested name. `tls internal` hosts get leaves from a
local CA created on first use (root 10 years, intermediate 7 days, leaves
12 hours, like Caddy's), stored as PEM under
`<data_dir>/pki/authorities/local/` and `<data_dir>/certificates/local/<host>/`;
`renew()` reissues leaves and the intermediate once two thirds of their
lifetime have passed. `cryptography` is imported only when `tls internal`
is used. There is no ACME: `acme_error()` explains what to do instead.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpc.runtime.app import TLSConfig

__all__ = ["CertStore", "InternalCA", "acme_error", "default_data_dir"]

ROOT_LIFETIME = datetime.timedelta(days=3650)
INTERMEDIATE_LIFETIME = datetime.timedelta(days=7)
LEAF_LIFETIME = datetime.timedelta(hours=12)
_ALPN = ["http/1.1"]  # the aiohttp server speaks HTTP/1.x only


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/rpc`, or `~/.local/share/rpc`."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "rpc"


def acme_error(config: TLSConfig, data_dir: Path) -> str | None:
    """The startup error for sites that would need a public certificate, or None."""
    if not config.acme:
        return None
    names = ", ".join(config.acme)
    root = data_dir / "pki" / "authorities" / "local" / "root.crt"
    return (
        f"site(s) {names} would need a publicly trusted certificate, which Caddy gets "
        "through ACME; rpc does not talk to certificate authorities. Choose one per site: "
        f"`tls internal` (a local CA; clients must trust {root}), "
        "`tls <cert.pem> <key.pem>` with a certificate you obtained yourself, "
        f"or plain HTTP by writing the site address as http://{config.acme[0]}"
    )


def _crypto() -> Any:
    try:
        from cryptography import x509
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "`tls internal` needs the cryptography package: pip install 'rpc[runtime]'"
        ) from exc
    return x509


def _write_private(path: Path, data: bytes) -> None:
    # Atomic replace so concurrent workers never read half a file.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _host_dir_name(host: str) -> str:
    return host.replace("*", "wildcard_").replace(":", "_")


@dataclass(frozen=True, slots=True)
class _Issued:
    cert: Any  # cryptography.x509.Certificate
    key: Any  # private key


class InternalCA:
    """The local certificate authority behind `tls internal`, kept under `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.ca_dir = self.data_dir / "pki" / "authorities" / "local"
        self.root_cert_path = self.ca_dir / "root.crt"
        self._root: _Issued | None = None
        self._intermediate: _Issued | None = None

    # -- CA --------------------------------------------------------------------------------

    def _load(self, name: str) -> _Issued | None:
        from cryptography.hazmat.primitives import serialization

        x509 = _crypto()
        cert_path, key_path = self.ca_dir / f"{name}.crt", self.ca_dir / f"{name}.key"
        if not (cert_path.exists() and key_path.exists()):
            return None
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return _Issued(cert, key)

    def _store(self, name: str, issued: _Issued, directory: Path | None = None) -> None:
        from cryptography.hazmat.primitives import serialization

        directory = directory or self.ca_dir
        key_pem = issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(directory / f"{name}.key", key_pem)
        _write_private(directory / f"{name}.crt", _pem(issued.cert))

    def root(self) -> _Issued:
        """The root certificate, created on first use."""
        if self._root is None:
            loaded = self._load("root")
            if loaded is None:
                loaded = self._make_ca("Root", None, ROOT_LIFETIME)
                self._store("root", loaded)
            self._root = loaded
        return self._root

    def intermediate(self) -> _Issued:
        """The intermediate that signs leaves; reissued when two thirds of it have passed."""
        current = self._intermediate or self._load("intermediate")
        if current is None or _due(current.cert):
            current = self._make_ca("ECC Intermediate", self.root(), INTERMEDIATE_LIFETIME)
            self._store("intermediate", current)
        self._intermediate = current
        return current

    def _make_ca(self, label: str, parent: _Issued | None, lifetime: datetime.timedelta) -> _Issued:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        x509 = _crypto()
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"rpc Local Authority - {label}")]
        )
        issuer_name = parent.cert.subject if parent else name
        signing_key = parent.key if parent else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + lifetime)
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None if parent is None else 0),
                critical=True,
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        return _Issued(builder.sign(signing_key, hashes.SHA256()), key)

    # -- leaves ----------------------------------------------------------------------------

    def leaf_paths(self, host: str) -> tuple[Path, Path]:
        """Where the leaf of `host` lives: (chain PEM, key PEM)."""
        directory = self.data_dir / "certificates" / "local" / _host_dir_name(host)
        base = _host_dir_name(host)
        return directory / f"{base}.crt", directory / f"{base}.key"

    def leaf(self, host: str) -> tuple[Path, Path]:
        """A valid leaf for `host` on disk (issued now if missing or due); its paths."""
        x509 = _crypto()
        cert_path, key_path = self.leaf_paths(host)
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if not _due(cert) and self._signed_by_current(cert):
                return cert_path, key_path
        self.issue(host)
        return cert_path, key_path

    def _signed_by_current(self, cert: Any) -> bool:
        return bool(cert.issuer == self.intermediate().cert.subject)

    def issue(self, host: str) -> None:
        """Issue a fresh leaf for `host` and store it with the intermediate as its chain."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID

        x509 = _crypto()
        inter = self.intermediate()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        try:
            san: Any = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(inter.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(min(now + LEAF_LIFETIME, inter.cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(inter.key, hashes.SHA256())
        )
        cert_path, key_path = self.leaf_paths(host)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(key_path, key_pem)
        _write_private(cert_path, _pem(cert) + _pem(inter.cert))


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _due(cert: Any) -> bool:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return bool(_now() >= start + (end - start) * 2 / 3)


def _context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # Caddy's default minimum
    ctx.set_alpn_protocols(_ALPN)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


class CertStore:
    """Certificates by host name and the listener context that picks among them by SNI."""

    def __init__(self, config: TLSConfig, data_dir: Path | None = None) -> None:
        self.config = config
        self.data_dir = Path(data_dir or config.data_dir or default_data_dir())
        self.ca: InternalCA | None = InternalCA(self.data_dir) if config.internal else None
        self._by_host: dict[str, ssl.SSLContext] = {}
        self._fallback: ssl.SSLContext | None = None
        self._outer: ssl.SSLContext | None = None
        self._outer_host: str | None = None  # internal host whose leaf the outer context holds

    @property
    def empty(self) -> bool:
        """No certificate is configured at all."""
        return not self.config.certificates and not self.config.internal

    def prepare(self) -> None:
        """Load every certificate file and issue internal leaves (startup; raises on error)."""
        first: tuple[str | Path, str | Path] | None = None
        for cert in self.config.certificates:
            ctx = _context(cert.cert_file, cert.key_file)
            first = first or (cert.cert_file, cert.key_file)
            if not cert.hosts and self._fallback is None:
                self._fallback = ctx
            for host in cert.hosts:
                self._by_host.setdefault(host.lower(), ctx)
        if self.ca is not None:
            for host in self.config.internal:
                paths = self.ca.leaf(host)
                if first is None:
                    first, self._outer_host = paths, host
                self._by_host.setdefault(host.lower(), _context(*paths))
        if first is None:
            raise ValueError("a TLS server has no certificate (tls files or tls internal)")
        outer = _context(*first)
        outer.sni_callback = self._select
        self._outer = outer

    def issue_only(self) -> None:
        """Create the CA and leaves on disk without loading them (the parent before workers fork)."""
        if self.ca is not None:
            for host in self.config.internal:
                self.ca.leaf(host)

    def server_context(self) -> ssl.SSLContext:
        """The context for TLS listeners (after `prepare`)."""
        assert self._outer is not None, "CertStore.prepare() first"
        return self._outer

    def lookup(self, server_name: str) -> ssl.SSLContext | None:
        """The context serving `server_name`: exact name, then one-label wildcard, then fallback."""
        name = server_name.lower().rstrip(".")
        ctx = self._by_host.get(name)
        if ctx is None and "." in name:
            ctx = self._by_host.get("*." + name.split(".", 1)[1])
        return ctx or self._fallback

    def _select(
        self, sslobj: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if server_name is None:
            return None  # no SNI: the first certificate answers
        # The server side of an SSLObject does not keep the name; logs and placeholders read it here.
        sslobj.rpc_sni = server_name  # type: ignore[attr-defined]
        ctx = self.lookup(server_name)
        if ctx is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = ctx
        return None

    def renew(self) -> list[str]:
        """Reissue internal leaves that are due and reload them; the hosts renewed."""
        renewed: list[str] = []
        if self.ca is None:
            return renewed
        x509 = _crypto()
        for host in self.config.internal:
            cert_path, key_path = self.ca.leaf_paths(host)
            try:
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                due = _due(cert)
            except (OSError, ValueError):
                due = True
            if not due:
                continue
            cert_path, key_path = self.ca.leaf(host)
            # Existing contexts pick the new chain up for new handshakes.
            for ctx in (
                self._by_host.get(host.lower()),
                self._outer if host == self._outer_host else None,
            ):
                if ctx is not None:
                    ctx.load_cert_chain(str(cert_path), str(key_path))
            renewed.append(host)
        return renewed
