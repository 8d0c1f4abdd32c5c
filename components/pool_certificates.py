"""The GPU pool's own CA: a server certificate per GPU host and a client certificate for the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

RESOURCE_TYPE = "llmstack:index:PoolCertificates"
POOL_DOMAIN = "pool.llmstack.internal"
"""Hosts are named `<host>.pool.llmstack.internal` in their certificates: nginx checks a peer by DNS
name (X509_check_host), not by IP address, and the name survives an address change."""
_CA_VALIDITY_HOURS = 10 * 365 * 24
_LEAF_VALIDITY_HOURS = 365 * 24
# `pulumi up` in the last 30 days of validity issues a new leaf certificate.
_RENEWAL_HOURS = 30 * 24


def host_server_name(host: str) -> str:
    """The DNS name in `host`'s server certificate, which the gateway checks."""
    return f"{host}.{POOL_DOMAIN}"


@dataclass(frozen=True, kw_only=True)
class PoolHostAddress:
    """A GPU host as its certificate names it."""

    name: str
    """The host's name in the stack."""
    address: str
    """Its private address (also in the certificate, for operators' own checks)."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key (secret)."""

    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class PoolCertificatesArgs:
    """Inputs of `PoolCertificates`."""

    hosts: tuple[PoolHostAddress, ...]
    """GPU hosts that get a server certificate."""


class PoolCertificates(pulumi.ComponentResource):
    """The pool's own CA (not the edge's), a server certificate per GPU host, the gateway's client one.

    Host certificates are for `server_auth` only, the gateway's for `client_auth` only. A
    terminator admits a client certificate of this CA; the gateway trusts a host certificate of
    this CA with the host's name. Keys (ECDSA P-256) live in Pulumi state, encrypted, and in the
    nginx containers that use them. A host's certificate is its own resource: adding or removing a
    host issues or drops one certificate and touches no other.
    """

    ca_certificate_pem: pulumi.Output[str]
    servers: dict[str, KeyPair]
    client: KeyPair

    def __init__(self, name: str, args: PoolCertificatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{name} pool CA", organization="llmstack"),
            is_ca_certificate=True,
            validity_period_hours=_CA_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            opts=child,
        )
        self.ca_certificate_pem = ca.cert_pem
        signer = _Signer(ca_key.private_key_pem, ca.cert_pem, child)
        self.servers = {
            host.name: signer.sign(
                f"{name}-{host.name}",
                common_name=host_server_name(host.name),
                dns_names=[host_server_name(host.name)],
                ip_addresses=[host.address],
                uses=["digital_signature", "server_auth"],
            )
            for host in args.hosts
        }
        self.client = signer.sign(
            f"{name}-gateway",
            common_name=f"gateway.{POOL_DOMAIN}",
            dns_names=[],
            ip_addresses=[],
            uses=["digital_signature", "client_auth"],
        )
        self.register_outputs({"caCertificatePem": self.ca_certificate_pem})


@dataclass(frozen=True)
class _Signer:
    ca_key_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    child: pulumi.ResourceOptions

    def sign(
        self, name: str, *, common_name: str, dns_names: list[str], ip_addresses: list[str], uses: list[str]
    ) -> KeyPair:
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=self.child)
        request = tls.CertRequest(
            f"{name}-request",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name, organization="llmstack"),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            opts=self.child,
        )
        certificate = tls.LocallySignedCert(
            f"{name}-certificate",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self.ca_key_pem,
            ca_cert_pem=self.ca_cert_pem,
            validity_period_hours=_LEAF_VALIDITY_HOURS,
            early_renewal_hours=_RENEWAL_HOURS,
            allowed_uses=uses,
            opts=self.child,
        )
        return KeyPair(certificate.cert_pem, pulumi.Output.secret(key.private_key_pem))
