"""Stand-ins for the providers' generated values (test double: not the real providers).

The Pulumi engine and the random/tls/docker/cloudflare provider plugins cannot run here. These
functions produce what those providers would return for the inputs the program gives them: random
strings of the requested length and alphabet, real ECDSA keys, real X.509 certificates signed the
way pulumi-tls signs them, and Cloudflare credentials shaped like the real ones (which no Cloudflare
account accepts). Every value is freshly generated, so no real stack's secret is ever shown.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import random
import string
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Outputs = dict[str, Any]


def random_password(inputs: Mapping[str, Any], rng: random.Random) -> Outputs:
    """random.RandomPassword (and RandomString): `length` characters from the enabled classes."""
    alphabet = ""
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("numeric", True):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
    result = "".join(rng.choice(alphabet) for _ in range(int(inputs["length"])))
    return {**inputs, "result": result}


def random_bytes(inputs: Mapping[str, Any], rng: random.Random) -> Outputs:
    """random.RandomBytes: `length` random bytes as base64 and hex."""
    raw = rng.randbytes(int(inputs["length"]))
    return {**inputs, "base64": base64.b64encode(raw).decode(), "hex": raw.hex()}


def private_key(inputs: Mapping[str, Any], rng: random.Random | None = None) -> Outputs:
    """tls.PrivateKey (ECDSA P-256, the only algorithm llmstack asks for)."""
    if inputs.get("algorithm") != "ECDSA" or inputs.get("ecdsaCurve") != "P256":
        raise ValueError(f"stand-in supports ECDSA P256 keys only, got {dict(inputs)}")
    if _seeded(rng):
        key = ec.derive_private_key(rng.getrandbits(255) + 1, ec.SECP256R1())
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {**inputs, "privateKeyPem": pem, "publicKeyPem": public}


def self_signed_cert(inputs: Mapping[str, Any], rng: random.Random | None = None) -> Outputs:
    """tls.SelfSignedCert."""
    key = _load_key(inputs["privateKeyPem"])
    subject = _name(inputs.get("subject") or {})
    cert = _sign(inputs, subject=subject, public_key=key.public_key(), issuer=subject, issuer_key=key, rng=rng)
    return {**inputs, "certPem": cert}


def cert_request(inputs: Mapping[str, Any], rng: random.Random | None = None) -> Outputs:
    """tls.CertRequest."""
    key = _load_key(inputs["privateKeyPem"])
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject") or {}))
    sans = _sans(inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, hashes.SHA256(), ecdsa_deterministic=_seeded(rng))
    return {**inputs, "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}


def locally_signed_cert(inputs: Mapping[str, Any], rng: random.Random | None = None) -> Outputs:
    """tls.LocallySignedCert: the request's subject and names, signed by the CA."""
    csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
    ca = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
    cert = _sign(
        inputs,
        subject=csr.subject,
        public_key=csr.public_key(),
        issuer=ca.subject,
        issuer_key=_load_key(inputs["caPrivateKeyPem"]),
        csr=csr,
        rng=rng,
    )
    return {**inputs, "certPem": cert}


def certificate_pair(common_name: str) -> tuple[str, str]:
    """A self-signed certificate and its key, standing in for a user's encrypted TLS config."""
    key_pem = private_key({"algorithm": "ECDSA", "ecdsaCurve": "P256"})["privateKeyPem"]
    cert = self_signed_cert(
        {
            "privateKeyPem": key_pem,
            "subject": {"commonName": common_name},
            "dnsNames": [common_name],
            "validityPeriodHours": 24,
            "allowedUses": ["digital_signature", "server_auth"],
        }
    )["certPem"]
    return cert, key_pem


def stand_in_image_id(reference: str) -> str:
    """An image ID as docker.RemoteImage reports it (`sha256:<64 hex>`), derived from the reference.

    The provider reports the pulled image's ID, never the reference, so a container's `image`
    (`RemoteImage.image_id`) does not say which image it is: the audit must see the same.
    """
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def _image_id(inputs: Mapping[str, Any], rng: random.Random | None = None) -> Outputs:
    """docker.RemoteImage: the pulled image's ID."""
    return {**inputs, "imageId": stand_in_image_id(inputs["name"])}


def access_service_token(inputs: Mapping[str, Any], rng: random.Random) -> Outputs:
    """cloudflare.ZeroTrustAccessServiceToken: a client id (`<32 hex>.access`) and a 64-hex secret."""
    return {
        **inputs,
        "clientId": f"{rng.getrandbits(128):032x}.access",
        "clientSecret": f"{rng.getrandbits(256):064x}",
    }


def api_token(inputs: Mapping[str, Any], rng: random.Random) -> Outputs:
    """cloudflare.ApiToken: its inputs and a value shaped like Cloudflare's (40 characters); no API accepts it."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return {**inputs, "value": "".join(rng.choice(alphabet) for _ in range(40))}


def stand_in_tunnel_token(args: Mapping[str, Any], rng: random.Random) -> Outputs:
    """The connector-token lookup (getZeroTrustTunnelCloudflaredToken), as a stand-in.

    Shaped like Cloudflare's token (base64 JSON of account tag, tunnel id and a secret), but its
    secret is fresh randomness: no tunnel accepts it.
    """
    secret = base64.b64encode(rng.randbytes(32)).decode()
    claims = {"a": args["accountId"], "t": args["tunnelId"], "s": secret}
    token = base64.b64encode(json.dumps(claims).encode()).decode()
    return {"accountId": args["accountId"], "tunnelId": args["tunnelId"], "token": token}


def docker_container(inputs: Mapping[str, Any], rng: random.Random) -> Outputs:
    """docker.Container: its inputs; an `attach` container has run to completion (exit code 0)."""
    del rng
    return {**inputs, "exitCode": 0} if inputs.get("attach") else dict(inputs)


STAND_INS: dict[str, Callable[[Mapping[str, Any], random.Random], Outputs]] = {
    "random:index/randomPassword:RandomPassword": random_password,
    "random:index/randomString:RandomString": random_password,
    "random:index/randomBytes:RandomBytes": random_bytes,
    "tls:index/privateKey:PrivateKey": private_key,
    "tls:index/selfSignedCert:SelfSignedCert": self_signed_cert,
    "tls:index/certRequest:CertRequest": cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": locally_signed_cert,
    "docker:index/remoteImage:RemoteImage": _image_id,
    "docker:index/container:Container": docker_container,
    "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken": access_service_token,
    "cloudflare:index/apiToken:ApiToken": api_token,
}

STAND_IN_INVOKES: dict[str, Callable[[Mapping[str, Any], random.Random], Outputs]] = {
    "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken": stand_in_tunnel_token,
}
"""Provider functions (invokes) the program calls, by token."""


def _load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("stand-in certificates are signed with ECDSA keys only")
    return key


def _name(subject: Mapping[str, Any]) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, subject.get("commonName", "llmstack"))]
    if subject.get("organization"):
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject["organization"]))
    return x509.Name(attributes)


def _sans(inputs: Mapping[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
    return names


def _sign(
    inputs: Mapping[str, Any],
    *,
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    csr: x509.CertificateSigningRequest | None = None,
    rng: random.Random | None = None,
) -> str:
    now = datetime.datetime.now(datetime.UTC)
    if _seeded(rng):
        # Seeded runs stand for one unchanged state: the same certificate all day.
        now = now.replace(hour=0, minute=0, second=0, microsecond=0)
    is_ca = bool(inputs.get("isCaCertificate"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(rng.getrandbits(120) + 1 if _seeded(rng) else x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=float(inputs["validityPeriodHours"])))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    uses = set(inputs.get("allowedUses") or [])
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature="digital_signature" in uses,
            content_commitment=False,
            key_encipherment="key_encipherment" in uses,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign="cert_signing" in uses,
            crl_sign="crl_signing" in uses,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if "server_auth" in uses:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    sans = _sans(inputs)
    if csr is not None:
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    signed = builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=_seeded(rng))
    return signed.public_bytes(serialization.Encoding.PEM).decode()


def _seeded(rng: random.Random | None) -> TypeGuard[random.Random]:
    """Whether values must be reproducible: a seeded generator, not system randomness."""
    return rng is not None and not isinstance(rng, random.SystemRandom)
