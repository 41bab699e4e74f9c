"""The HTTP client's TLS: certificates are verified, against the CA bundle
httpx would use ($SSL_CERT_FILE here), though it is read only at the first
handshake (tts_tui/core/tls.py). A real TLS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tts_tui.core.client import HttpClient
from tts_tui.core.exchange import Exchange, PreparedRequest

# A self-signed certificate for 127.0.0.1 (IP SAN), valid until 2126; made with
# openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=127.0.0.1
#   -addext subjectAltName=IP:127.0.0.1
CERT = """\
-----BEGIN CERTIFICATE-----
MIIDHDCCAgSgAwIBAgIUbqBroMq3BNnIQnflLhX7xAALeW0wDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDAxMjgyM1oYDzIxMjYx
MTA2MDEyODIzWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQCOL1/PF/mivV5kBaZzKFJyzVjVBxRi3nOVWa4YZQrZ
EXvbkpcsZy3A5X3i77lBu6ayBfAEDbNporXHTgwljp3aEWmMMy1dEEt7c3rxuvic
4jicBxHGHyW5HxB1SKiLVGz6019JQiAR860h0c4zXldlCIIf75Zk0IluNzVNZ32E
zpkElMwwdQGsySudIrqrH+RzVAMiaSzjOUjHFAYAP/+QElf/9iU0+stjd9UCUJdj
cqHNJ3UZLqkjH+YN0BNeJuDlhuZOtHaVItQHviPQkCtnomdTBTeSnBhxcfRj20o3
qYO58DuEcLmoSWOz/HioOeqoEYYtVGvQPVAAOA7E4dBlAgMBAAGjZDBiMB0GA1Ud
DgQWBBS+oHZ2My70efdzVXxCud5jt5Y1DzAfBgNVHSMEGDAWgBS+oHZ2My70efdz
VXxCud5jt5Y1DzAPBgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwDQYJ
KoZIhvcNAQELBQADggEBAGm47fvaQUVb4hXaC5/ncI25HgpT3KsYCb+uThiqwxbk
uYdqjyEqmIzD0ilABkQTi/y0/15qKAX4VdcnbkUkZQ8uQlz1WSLh94y7sJmjuRnq
FGeLsNRXBVNahSDk8uICmic8mZKeouC2bDsxAYwnAriMwWfrpsdMsGwP6ef6CkWB
IPIFPyQLgUXAPjuHlqH5ArJBJr9kLVPxuVe2kCJrQ3DFI88vh8nD/k8zYWjuRmi9
cFaFfPFt478Zc3h15QS289Ee4NO519jgu3cTlN/+TyFVVysEhKShinDWFO6PDxJK
YlqJSPoV0oTBoWabFJo3h8Tcs+lzjo9Q5351uYdVMlc=
-----END CERTIFICATE-----
"""
KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCOL1/PF/mivV5k
BaZzKFJyzVjVBxRi3nOVWa4YZQrZEXvbkpcsZy3A5X3i77lBu6ayBfAEDbNporXH
Tgwljp3aEWmMMy1dEEt7c3rxuvic4jicBxHGHyW5HxB1SKiLVGz6019JQiAR860h
0c4zXldlCIIf75Zk0IluNzVNZ32EzpkElMwwdQGsySudIrqrH+RzVAMiaSzjOUjH
FAYAP/+QElf/9iU0+stjd9UCUJdjcqHNJ3UZLqkjH+YN0BNeJuDlhuZOtHaVItQH
viPQkCtnomdTBTeSnBhxcfRj20o3qYO58DuEcLmoSWOz/HioOeqoEYYtVGvQPVAA
OA7E4dBlAgMBAAECggEACPTWf+zWcogjuUC63K+qS+WABkFBKT4ygTKqOwqoXYaS
qwDnqWohcXBzVtd7b7bSmA20Mgkr50hS04hozvfWHS2yHJz/q0hSvObIFJCOxxEf
+EIgvj5piaj5iC3IwigSClXEv5BdBUx4eDQnXUiA0FIyIjFdI6IYOhtbrfHKMBKc
eeIgmE0o6O42NWboM1VKBqrE8WTblkUTmEjHiH2IpOrfmQgQKZHuz3M+tad0nRVk
tjUOP6w1EeEClcGOhPSAkagMe4IKdMF6EQafULRj2wD8oeaqAqmlmWQ/40tt1PsD
43HcLhfGOhzPvUkmg2FFBPwLdfvf6W605FouXMJf2QKBgQDCz5hHSzp+Uzwo0rpV
YrBZLYDmcrt3ovbwgBdRuDG+I4CGUF7/8BN1I7wgkQTR6yYxnxEJTtO3CTkK/iYP
ooGhVOkUmrB1wP3jXMv50dZZRvg6JBm7+z/3kSPB9D/8qk8b9ApasXDAZEIt9qrc
E+bBOq6jKoyFACbXWCMYn+f0aQKBgQC62DnVp5auMb9LNpxyuX/QuocoBjZ54eH0
ud8mxPllUQEZJRPC/N8A9YRpVkuNoDvU7WiDB9uuvE47RXtFis9WWCm5e+ywZYT9
6DekfpTTuyFayMyTTlTPb9dNnCB/DwOBB6Fo1ZtyxO7FXkL5TPKB2xTBXiJmEqph
ViTyfUwMnQKBgQC8KhG2wxXzkGfqMmhiMtmMuWPosucaDmEgOUjM2PHK6rWohhbM
dNIGcgazGf+i1tNkWHT3HZlnENR1JrgSn+8/qikbirJoeomAQ1CNsz2rq931Iots
w6ischcsrsPjQ4j3wgcCRKNYYT5+8ONlgR+AgjLOTTm++T+K/omfrkw4CQKBgQCK
soHUGRCghGs1IPfnrc20mxJDYsFDnqsF6Ig/Fk7vp78B9GUEBIRiCN7e9uEk48Im
YImJYubvgfcsxnooeE9LEC0A9H4Rv3qGpL/RSumddrbe1loOK0KHrcUMZo4042c9
e/WUhaRcANYiCsP6neUTAhcZJ5CvZsG1eaX5n4s5fQKBgGbTgPK8Sgm6tERDSKP4
fE9hTKXB0yWSOfxXEBoI3Ng6FllDxsj96FC5Fen6XTxIxOgCopcHkVTgNzFTzW3l
mdOuwRclR3fF9vtjwSDlKLJoG+HSVsImgwSpm/OIRalNbuqGNLUXHNQGrjJia2F3
s+qVB6bZc5FP51tR+DbRagqh
-----END PRIVATE KEY-----
"""


@pytest.fixture
async def tls_port(tmp_path: Path) -> AsyncIterator[int]:
    """A TLS server answering every request with 200 "ok"."""
    (tmp_path / "cert.pem").write_text(CERT)
    (tmp_path / "key.pem").write_text(KEY)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                         b"Connection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def get(url: str) -> Exchange:
    client = HttpClient()
    try:
        return await client.send(Exchange(PreparedRequest("GET", url)), timeout=5)
    finally:
        await client.aclose()


async def test_an_untrusted_certificate_is_refused(tls_port: int, monkeypatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ex = await get(f"https://127.0.0.1:{tls_port}/")
    assert ex.status is None
    assert ex.error == (f"TLS handshake with 127.0.0.1:{tls_port} failed: "
                        "certificate verify failed: self-signed certificate")


async def test_ssl_cert_file_is_the_trust_store(tls_port: int, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    ex = await get(f"https://127.0.0.1:{tls_port}/")
    assert ex.error is None
    assert (ex.status, ex.body) == (200, b"ok")


async def test_the_host_name_is_checked(tls_port: int, tmp_path: Path, monkeypatch) -> None:
    # trusted, but issued to 127.0.0.1, not to localhost
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    ex = await get(f"https://localhost:{tls_port}/")
    assert ex.status is None and ex.error is not None
    assert "certificate verify failed" in ex.error and "localhost" in ex.error
