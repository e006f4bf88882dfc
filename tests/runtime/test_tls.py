"""TLS: `tls internal` (client verifies against the generated CA), certificate files with SNI,
renewal, and the refusal to start for sites that would need ACME."""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
from pathlib import Path

import pytest

from rpc.runtime import TLSConfig
from rpc.runtime import tls as tls_mod
from rpc.runtime.tls import CertStore
from rpctest.apps import run_app, run_to_exit, write_app
from rpctest.procs import free_port

x509 = pytest.importorskip("cryptography.x509")


def https_get(
    port: int, server_name: str, cafile: Path, path: str = "/"
) -> tuple[int, bytes, dict]:
    """GET over TLS with `server_name` as SNI and Host, verifying against `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    with context.wrap_socket(raw, server_hostname=server_name) as sock:
        conn = http.client.HTTPConnection(server_name, port, timeout=15)
        conn.sock = sock
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(), sock.getpeercert()


def test_tls_internal_serves_a_certificate_the_generated_ca_signs(tmp_path: Path) -> None:
    port, plain_port = free_port(), free_port()
    data = tmp_path / "data"
    app = write_app(
        tmp_path,
        f"""
        async def route_0(ctx):
            return web.Response(text=f"{{ctx.scheme}} {{ctx.host}}")

        APP = App(
            servers=(
                ServerConfig(
                    "srv0", ("127.0.0.1:{port}", "127.0.0.1:{plain_port}"), route_0,
                    tls=True, logs=ServerLogs(),
                ),
            ),
            tls=TLSConfig(internal=("localhost",)),
            logs=(Log(output="stdout"),),
            http_port={plain_port},
        )
        """,
    )
    with run_app(app, port, "--data-dir", str(data)) as proc:
        root = data / "pki" / "authorities" / "local" / "root.crt"
        status, body, peer = https_get(port, "localhost", root)
        assert (status, body) == (200, b"https localhost")
        assert peer["subjectAltName"] == (("DNS", "localhost"),)
        entry = proc.wait_entry(logger="http.log.access")
        tls_fields = entry["request"]["tls"]
        assert (tls_fields["server_name"], tls_fields["proto"]) == ("localhost", "http/1.1")
        assert tls_fields["version"] in (0x0303, 0x0304) and tls_fields["cipher_suite"] > 0
        # The listener on http_port stays plain HTTP, as in Caddy.
        conn = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10)
        conn.request("GET", "/", headers={"Host": "localhost"})
        assert conn.getresponse().read() == b"http localhost"
        conn.close()
    key = data / "certificates" / "local" / "localhost" / "localhost.key"
    assert key.stat().st_mode & 0o777 == 0o600


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    stem = name.replace("*", "star")
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_certificate_files_are_chosen_by_sni(tmp_path: Path) -> None:
    port = free_port()
    a_cert, a_key = _self_signed(tmp_path, "a.test")
    b_cert, b_key = _self_signed(tmp_path, "*.b.test")
    app = write_app(
        tmp_path,
        f"""
        async def route_0(ctx):
            return web.Response(text=ctx.host)

        APP = App(
            servers=(ServerConfig("srv0", ("127.0.0.1:{port}",), route_0, tls=True),),
            tls=TLSConfig(certificates=(
                Certificate({str(a_cert)!r}, {str(a_key)!r}, hosts=("a.test",)),
                Certificate({str(b_cert)!r}, {str(b_key)!r}, hosts=("*.b.test",)),
            )),
        )
        """,
    )
    with run_app(app, port):
        assert https_get(port, "a.test", a_cert)[:2] == (200, b"a.test")
        assert https_get(port, "x.b.test", b_cert)[:2] == (200, b"x.b.test")
        with pytest.raises(ssl.SSLError):
            https_get(port, "a.test", b_cert)  # a.test gets its own certificate, not b's
        with pytest.raises(ssl.SSLError):
            https_get(port, "unknown.test", a_cert)  # no certificate: the handshake fails


def test_internal_leaves_renew_after_two_thirds(tmp_path: Path, monkeypatch) -> None:
    store = CertStore(TLSConfig(internal=("localhost", "127.0.0.1")), tmp_path)
    store.prepare()
    cert_path, _ = store.ca.leaf_paths("localhost")  # type: ignore[union-attr]
    before = x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number
    assert store.renew() == []
    later = tls_mod._now() + datetime.timedelta(hours=9)
    monkeypatch.setattr(tls_mod, "_now", lambda: later)
    assert sorted(store.renew()) == ["127.0.0.1", "localhost"]
    after = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert after.serial_number != before
    ip_leaf, _ = store.ca.leaf_paths("127.0.0.1")  # type: ignore[union-attr]
    san = x509.load_pem_x509_certificate(ip_leaf.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # A second store over the same directory reuses the CA instead of making a new one.
    root = store.ca.root().cert  # type: ignore[union-attr]
    assert CertStore(TLSConfig(internal=("localhost",)), tmp_path).ca.root().cert == root  # type: ignore[union-attr]


def test_sites_needing_acme_refuse_to_start_and_say_what_to_do(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        async def route_0(ctx):
            return None

        APP = App(
            servers=(ServerConfig("srv0", ("127.0.0.1:9",), route_0, tls=True),),
            tls=TLSConfig(acme=("example.com",)),
        )
        """,
    )
    result = run_to_exit(app, ["--check"])
    assert result.returncode == 1
    message = result.stderr
    assert "example.com" in message and "tls internal" in message
    assert "http://example.com" in message


def test_tls_server_without_certificates_is_a_config_error(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        async def route_0(ctx):
            return None

        APP = App(servers=(ServerConfig("srv0", ("127.0.0.1:9",), route_0, tls=True),))
        """,
    )
    result = run_to_exit(app, ["--check"])
    assert result.returncode == 1 and "no certificate" in result.stderr
