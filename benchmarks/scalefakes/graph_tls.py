"""TLS for the Graph scale fake: msal refuses an authority that is not https.

A throwaway CA (trustme) issues a certificate for 127.0.0.1 and localhost; the accounts
trust it through their `ca_bundle` (which, unlike REQUESTS_CA_BUNDLE, the provider pins).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's certificate chain (uvicorn's ssl_certfile)
    key: Path  # its private key (uvicorn's ssl_keyfile)
    ca: Path  # the CA bundle the accounts' ca_bundle names


def tls_files(directory: Path) -> TlsFiles:
    """Write a fresh CA and a server certificate for 127.0.0.1 into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(cert=directory / "graph-cert.pem", key=directory / "graph-key.pem",
                     ca=directory / "graph-ca.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    leaf.private_key_pem.write_to_path(str(files.key))
    with files.cert.open("wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    files.key.chmod(0o600)
    return files


def tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """The server-side context and the CA bundle file (control.py's convention)."""
    files = tls_files(directory)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(files.cert), str(files.key))
    return ctx, files.ca
