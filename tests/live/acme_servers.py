"""The real ACME test server: Debian's Pebble, with pebble-challtestsrv as the DNS it asks.

Pebble is Let's Encrypt's ACME test server (RFC 8555, the protocol Boulder speaks); it checks each
DNS-01 challenge by asking challtestsrv for the TXT record, which `cloudflare_dns_standin` sets
through challtestsrv's management API as Cloudflare's API would set it in the zone. Everything
listens on 127.0.0.1 inside the test sandbox.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ADDRESS = "127.0.0.1"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
CHALLTESTSRV_PORT = 8055
DIRECTORY_URL = f"https://{ADDRESS}:{ACME_PORT}/dir"
DNS_SERVER = f"{ADDRESS}:{DNS_PORT}"
CHALLTESTSRV_URL = f"http://{ADDRESS}:{CHALLTESTSRV_PORT}"


@dataclass
class Pebble:
    """Running Pebble and challtestsrv processes, and the CA lego must trust to talk to Pebble."""

    listener_ca: Path
    """The CA of Pebble's own HTTPS listener (lego's LEGO_CA_CERTIFICATES)."""
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def root_pem(self) -> str:
        """The root Pebble signs certificates under (fresh each run): what a client must trust."""
        context = ssl.create_default_context(cafile=str(self.listener_ca))
        url = f"https://{ADDRESS}:{MANAGEMENT_PORT}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return str(response.read().decode())

    def close(self) -> None:
        """Stop both processes."""
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)


def start_pebble(workdir: Path) -> Pebble:
    """Start challtestsrv (DNS on :8053 only) and Pebble asking it; wait until both answer."""
    for binary in ("pebble", "pebble-challtestsrv"):
        if shutil.which(binary) is None:
            raise RuntimeError(f"{binary} is not installed: `apt-get install pebble` (CI does this in .ci/run)")
    ca_file, cert_file, key_file = _listener_certificate(workdir)
    config = {
        "pebble": {
            "listenAddress": f"{ADDRESS}:{ACME_PORT}",
            "managementListenAddress": f"{ADDRESS}:{MANAGEMENT_PORT}",
            "certificate": str(cert_file),
            "privateKey": str(key_file),
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    challtestsrv = [
        "pebble-challtestsrv",
        "-management",
        f"{ADDRESS}:{CHALLTESTSRV_PORT}",
        "-dns01",
        DNS_SERVER,
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
    ]
    pebble = ["pebble", "-config", str(workdir / "pebble.json"), "-dnsserver", DNS_SERVER]
    # No artificial validation delay; no nonce rejected on purpose (lego would retry, only slower);
    # no authorization reused, so every order goes through the DNS-01 step.
    env = {
        "PATH": "/usr/bin:/bin",
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",
    }
    processes, logs = [], []
    for name, command in (("challtestsrv", challtestsrv), ("pebble", pebble)):
        log = workdir / f"{name}.log"
        with log.open("w") as output:
            processes.append(subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env))
        logs.append(log)
    running = Pebble(listener_ca=ca_file, processes=processes, logs=logs)
    _wait_until_up(running)
    return running


def _wait_until_up(pebble: Pebble) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            pebble.root_pem()
            urllib.request.urlopen(f"{CHALLTESTSRV_URL}/", timeout=2).close()  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # challtestsrv answers 404 on /: it is up
        except OSError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in pebble.processes):
                pebble.close()
                logs = "\n".join(log.read_text()[-2000:] for log in pebble.logs)
                raise RuntimeError(f"Pebble did not start:\n{logs}") from None
            time.sleep(0.2)


def _listener_certificate(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA and the certificate of Pebble's HTTPS listener (127.0.0.1, localhost)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pebble listener test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(ADDRESS))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = (workdir / "listener-ca.pem", workdir / "listener.pem", workdir / "listener.key")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files
