"""The Cloudflare Tunnel: the public hostname, Cloudflare's side, and the cloudflared connector.

Imported only when a stack runs in tunnel mode: `import pulumi_cloudflare` takes seconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare
import pulumi_docker as docker
import pulumi_random as random

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.nginx import KEEPALIVE_SECONDS
from components.settings.model import ImageRef, TunnelSettings
from components.tunnel_watch import WATCH_ALIAS, tunnel_watch

RESOURCE_TYPE = "llmstack:index:Tunnel"
METRICS_ADDRESS = "127.0.0.1:20241"
"""cloudflared's metrics server (`/ready`, `/metrics`, pprof): inside the connector only, never nginx."""
FILES_DIR = "/etc/cloudflared"
ORIGIN_CA_FILE = f"{FILES_DIR}/origin-ca.pem"
TOKEN_FILE = f"{FILES_DIR}/tunnel-token"
"""The connector token as a file (cloudflared's TUNNEL_TOKEN_FILE): not in `docker inspect`'s environment."""
REPLACE_ON_SECRET = ["tunnelSecret"]
"""A new tunnel secret makes a new tunnel: its id changes, so a connector holding the old token serves nothing."""
RATE_LIMIT_ALL_PATHS = '(http.request.uri.path contains "/")'
"""Free zones' rate-limiting rules may test the path only: this matches every request of the zone."""
CONNECTOR_GRACE_SECONDS = 35
"""cloudflared's default --grace-period (30 s) and a margin."""
CLOUDFLARED_USER = "65532:65532"
"""The image's own user (cloudflared Dockerfile: distroless `nonroot`, `USER 65532:65532`), made explicit."""
CONFINEMENT = defaults.Confinement(
    user=CLOUDFLARED_USER,
    writable={"/tmp": 8},  # noqa: S108 - nothing known writes; a small scratch space, not the root
    nproc=512,
    cpu_shares=512,
)
SERVICE_TOKEN_LIFETIME = "8760h"  # noqa: S105 - a duration, not a secret
"""Access service tokens expire after a year (the provider's default, made explicit)."""


@dataclass(frozen=True, kw_only=True)
class TunnelArgs:
    """Inputs of `Tunnel`."""

    docker_prefix: str
    """Prefix of Docker object names; also names the tunnel and the Access objects."""
    cloudflare: TunnelSettings
    """Account, zone, connector image and address, Access and edge rate limit."""
    hostname: str
    """The public hostname the tunnel serves."""
    origin_url: str
    """nginx as cloudflared reaches it on the tunnel network, e.g. `https://llmstack-prod-nginx:8443`."""
    origin_ca_pem: pulumi.Input[str] | None
    """CA that signed nginx's certificate; None: the connector's system roots (a provided certificate)."""
    tunnel_network: docker.Network
    """The internal network shared with nginx only (pinned subnet)."""
    egress_network: docker.Network
    """cloudflared's own network, its route out to Cloudflare."""
    secret_keepers: dict[str, str] = field(default_factory=dict)
    """Rotation epochs the tunnel secret follows (pulumi-random keepers)."""
    serving: bool = True
    """False (the kill switch): no connector container; the tunnel, its secret and DNS record stay."""
    watch: TunnelWatchArgs | None = None
    """With monitoring on: the watch network and image; None: no watch."""


@dataclass(frozen=True, kw_only=True)
class TunnelWatchArgs:
    """Where Prometheus watches the connector (tunnel_watch.py)."""

    network: docker.Network
    """Internal network of cloudflared and Prometheus alone."""
    image: ImageRef
    """The stack's nginx image."""


class Tunnel(pulumi.ComponentResource):
    """A remotely managed Cloudflare Tunnel from `hostname` to nginx, and its connector container.

    Cloudflare's edge takes every request for `hostname` (a proxied CNAME to the tunnel), optionally
    behind Cloudflare Access and a rate-limiting rule, and sends it down the tunnel to cloudflared.
    cloudflared dials out (no port is published) and can reach nginx and nothing else: it shares
    only the internal tunnel network with nginx, at the fixed address nginx trusts `CF-Connecting-IP`
    from. Its ingress sends `hostname` to nginx over TLS, verified, and answers 404 for anything else.
    """

    access_headers: pulumi.Output[dict[str, str]] | None

    def __init__(self, name: str, args: TunnelArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.cloudflare
        secret = random.RandomBytes(f"{name}-secret", length=32, keepers=args.secret_keepers or None, opts=child)
        tunnel = cloudflare.ZeroTrustTunnelCloudflared(
            f"{name}-tunnel",
            account_id=settings.account_id,
            name=tunnel_name(args.docker_prefix, args.secret_keepers),
            config_src="cloudflare",
            tunnel_secret=secret.base64,
            # The provider would PATCH the secret in place, leaving running connectors connected.
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=REPLACE_ON_SECRET),
        )
        self._ingress(name, args, tunnel.id, child)
        lookup = cloudflare.get_zero_trust_tunnel_cloudflared_token_output(
            account_id=settings.account_id, tunnel_id=tunnel.id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        # The provider does not mark the connector token secret.
        token: pulumi.Output[str] = pulumi.Output.secret(lookup.apply(lambda result: str(result.token)))
        image = docker.RemoteImage(f"{name}-image", name=settings.image.reference, keep_locally=True, opts=child)
        # The token's volume outlives a pause: unpausing finds it unchanged.
        delivered = self._files(name, args, image, token, child)
        connector = self._connector(name, args, image, delivered) if args.serving else None
        if args.watch is not None:
            self._watch(name, args, args.watch, connector, child)
        self.access_headers = self._access(name, args, child) if settings.access else None
        if settings.edge_rate_limit:
            self._rate_limit(name, args, child)
        self.register_outputs({})

    def _ingress(
        self, name: str, args: TunnelArgs, tunnel_id: pulumi.Output[str], child: pulumi.ResourceOptions
    ) -> None:
        """The tunnel's routes (`hostname` to nginx, 404 for the rest) and the DNS name that leads to it."""
        cloudflare.ZeroTrustTunnelCloudflaredConfig(
            f"{name}-config",
            account_id=args.cloudflare.account_id,
            tunnel_id=tunnel_id,
            config=cloudflare.ZeroTrustTunnelCloudflaredConfigConfigArgs(
                ingresses=[
                    cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressArgs(
                        hostname=args.hostname,
                        service=args.origin_url,
                        origin_request=cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressOriginRequestArgs(
                            # nginx's certificate names the public hostname, not its container name.
                            origin_server_name=args.hostname,
                            ca_pool=ORIGIN_CA_FILE if args.origin_ca_pem is not None else None,
                            # Idle connections end on cloudflared's side first: no request meets a closing one.
                            keep_alive_timeout=KEEPALIVE_SECONDS - 5,
                        ),
                    ),
                    cloudflare.ZeroTrustTunnelCloudflaredConfigConfigIngressArgs(service="http_status:404"),
                ]
            ),
            opts=child,
        )
        cloudflare.DnsRecord(
            f"{name}-dns",
            zone_id=args.cloudflare.zone_id,
            name=args.hostname,
            type="CNAME",
            content=pulumi.Output.concat(tunnel_id, ".cfargotunnel.com"),
            proxied=True,
            ttl=1,
            comment=f"llmstack {args.docker_prefix}: Cloudflare Tunnel",
            opts=child,
        )

    def _files(
        self,
        name: str,
        args: TunnelArgs,
        image: docker.RemoteImage,
        token: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> DeliveredFiles:
        """The token and origin CA in a volume cloudflared mounts read-only."""
        # Root-owned in a volume only cloudflared mounts: world-readable for its non-root user.
        files = [DeliveredFile(path=TOKEN_FILE, content=token)]
        if args.origin_ca_pem is not None:
            files.append(DeliveredFile(path=ORIGIN_CA_FILE, content=args.origin_ca_pem))
        return DeliveredFiles(
            f"{name}-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-cloudflared-files",
                image=image.image_id,
                user=CLOUDFLARED_USER,
                mount_path=FILES_DIR,
                files=tuple(files),
            ),
            opts=child,
        )

    def _connector(
        self, name: str, args: TunnelArgs, image: docker.RemoteImage, delivered: DeliveredFiles
    ) -> docker.Container:
        settings = args.cloudflare
        return docker.Container(
            f"{name}-container",
            name=f"{args.docker_prefix}-cloudflared",
            image=image.image_id,
            entrypoints=["cloudflared"],
            command=["tunnel", "--no-autoupdate", "--metrics", METRICS_ADDRESS, "run"],
            envs=[f"TUNNEL_TOKEN_FILE={TOKEN_FILE}", pulumi.Output.concat(f"{DIGEST_ENV}=", delivered.digest)],
            volumes=[delivered.mount()],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.egress_network.name),
                docker.ContainerNetworksAdvancedArgs(
                    name=args.tunnel_network.name, ipv4_address=settings.subnet.connector
                ),
                *(
                    [docker.ContainerNetworksAdvancedArgs(name=args.watch.network.name, aliases=[WATCH_ALIAS])]
                    if args.watch is not None
                    else []
                ),
            ],
            # The image is distroless (no shell, no curl): cloudflared itself asks its /ready endpoint,
            # which answers 200 once at least one connection to Cloudflare's edge is up.
            healthcheck=defaults.healthcheck(["CMD", "cloudflared", "tunnel", "--metrics", METRICS_ADDRESS, "ready"]),
            # On SIGTERM cloudflared stops taking requests and waits its own --grace-period (30 s).
            **defaults.long_running(
                confinement=CONFINEMENT,
                memory_mb=settings.limits.memory_mb,
                wait_timeout_seconds=120,
                grace_seconds=CONNECTOR_GRACE_SECONDS,
            ),
            opts=defaults.serving_options(self, depends_on=[delivered.carrier]),
        )

    def _watch(
        self,
        name: str,
        args: TunnelArgs,
        watch: TunnelWatchArgs,
        connector: docker.Container | None,
        child: pulumi.ResourceOptions,
    ) -> None:
        image = docker.RemoteImage(f"{name}-watch-image", name=watch.image.reference, keep_locally=True, opts=child)
        tunnel_watch(
            f"{name}-watch",
            parent=self,
            docker_prefix=args.docker_prefix,
            image=image.image_id,
            connector=connector,
            metrics_address=METRICS_ADDRESS,
        )

    def _access(
        self, name: str, args: TunnelArgs, child: pulumi.ResourceOptions
    ) -> pulumi.Output[dict[str, str]] | None:
        """An Access application for the hostname; the service token's headers when there is one."""
        settings = args.cloudflare
        policies: list[cloudflare.ZeroTrustAccessPolicy] = []
        headers: pulumi.Output[dict[str, str]] | None = None
        if settings.access_emails:
            policies.append(self._people_policy(name, args, child))
        if settings.access_service_token:
            policy, headers = self._client_policy(name, args, child)
            policies.append(policy)
        cloudflare.ZeroTrustAccessApplication(
            f"{name}-access",
            account_id=settings.account_id,
            name=f"llmstack {args.docker_prefix}",
            type="self_hosted",
            domain=args.hostname,
            destinations=[cloudflare.ZeroTrustAccessApplicationDestinationArgs(type="public", uri=args.hostname)],
            policies=[
                cloudflare.ZeroTrustAccessApplicationPolicyArgs(id=policy.id, precedence=index)
                for index, policy in enumerate(policies, start=1)
            ],
            # API clients get a 401 they can report, not a redirect to a login page.
            service_auth401_redirect=settings.access_service_token,
            session_duration="24h",
            opts=child,
        )
        return headers

    def _people_policy(
        self, name: str, args: TunnelArgs, child: pulumi.ResourceOptions
    ) -> cloudflare.ZeroTrustAccessPolicy:
        """Access for the people in `accessEmails`, after they log in."""
        return cloudflare.ZeroTrustAccessPolicy(
            f"{name}-access-people",
            account_id=args.cloudflare.account_id,
            name=f"{args.docker_prefix}: people",
            decision="allow",
            includes=[
                cloudflare.ZeroTrustAccessPolicyIncludeArgs(
                    email=cloudflare.ZeroTrustAccessPolicyIncludeEmailArgs(email=email)
                )
                for email in args.cloudflare.access_emails
            ],
            opts=child,
        )

    def _client_policy(
        self, name: str, args: TunnelArgs, child: pulumi.ResourceOptions
    ) -> tuple[cloudflare.ZeroTrustAccessPolicy, pulumi.Output[dict[str, str]]]:
        """Access for API clients with the generated service token; the headers they send (secret)."""
        service_token = cloudflare.ZeroTrustAccessServiceToken(
            f"{name}-access-token",
            account_id=args.cloudflare.account_id,
            name=f"{args.docker_prefix}: API clients",
            duration=SERVICE_TOKEN_LIFETIME,
            opts=child,
        )
        policy = cloudflare.ZeroTrustAccessPolicy(
            f"{name}-access-clients",
            account_id=args.cloudflare.account_id,
            name=f"{args.docker_prefix}: API clients",
            # Service tokens are not identities: Access admits them with non_identity only.
            decision="non_identity",
            includes=[
                cloudflare.ZeroTrustAccessPolicyIncludeArgs(
                    service_token=cloudflare.ZeroTrustAccessPolicyIncludeServiceTokenArgs(token_id=service_token.id)
                )
            ],
            opts=child,
        )
        headers: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(service_token.client_id, service_token.client_secret).apply(_access_headers)
        )
        return policy, headers

    def _rate_limit(self, name: str, args: TunnelArgs, child: pulumi.ResourceOptions) -> None:
        """A rate-limiting rule at Cloudflare's edge, per client IP: the zone's one http_ratelimit ruleset.

        A zone has a single entry point per phase, so another stack (or a dashboard rule) in the same
        zone cannot have its own: the second one fails to create.
        """
        settings = args.cloudflare
        cloudflare.Ruleset(
            f"{name}-rate-limit",
            zone_id=settings.zone_id,
            kind="zone",
            phase="http_ratelimit",
            name=f"llmstack {args.docker_prefix}: rate limit",
            rules=[
                cloudflare.RulesetRuleArgs(
                    action="block",
                    expression=rate_limit_expression(settings.zone_plan, args.hostname),
                    description=f"llmstack {args.docker_prefix}: {settings.edge_rate_limit} requests per 10 s per IP",
                    # The values every plan accepts: 10 s period and timeout, counted per IP and data centre.
                    ratelimit=cloudflare.RulesetRuleRatelimitArgs(
                        characteristics=["cf.colo.id", "ip.src"],
                        period=10,
                        requests_per_period=settings.edge_rate_limit,
                        mitigation_timeout=10,
                    ),
                )
            ],
            opts=child,
        )


def tunnel_name(prefix: str, keepers: dict[str, str]) -> str:
    """The tunnel's name, unique per secret generation: names are unique per account.

    A new secret replaces the tunnel, create before delete, so the new one needs a name of its own.
    The first generation (every epoch at its default, "0") keeps the plain prefix, so upgrading
    renames nothing; a later generation's name changes in place, keeping the tunnel.
    """
    if all(value == "0" for value in keepers.values()):
        return prefix
    digest = hashlib.sha256(json.dumps(keepers, sort_keys=True).encode()).hexdigest()[:8]
    return f"{prefix}-{digest}"


def rate_limit_expression(plan: str, hostname: str) -> str:
    """What the rate-limiting rule counts: the hostname where the plan may test it, else the whole zone."""
    if plan == "free":
        return RATE_LIMIT_ALL_PATHS
    return f'(http.host eq "{hostname}")'


def _access_headers(credentials: list[Any]) -> dict[str, str]:
    """What a client sends to pass Access with the service token."""
    client_id, client_secret = credentials
    return {"CF-Access-Client-Id": str(client_id), "CF-Access-Client-Secret": str(client_secret)}
