"""A publicly trusted edge certificate from an ACME CA over DNS-01, renewed by its own container."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.edge import NGINX_USER
from components.render.acme import DNS_TOKEN_ENV, AcmeContext, lego_arguments, loop_environment
from components.settings.model import AcmeSettings

RESOURCE_TYPE = "llmstack:index:AcmeCertificate"
STATE_DIR = "/acme/state"
"""lego's --path in its container: account key, certificates (never mounted into nginx)."""
LIVE_DIR = "/acme/live"
"""The volume nginx mounts read-only: the served PEM and the loop's metrics file."""
LIVE_FILE_NAME = "edge.pem"
METRICS_FILE_NAME = "acme.prom"
ACME_USER = f"65532:{NGINX_USER.split(':')[1]}"
"""lego runs as this unprivileged user; the one-shot volume setup hands it the two volumes. Its group
is nginx's: the PEM it installs (0640) is readable by the non-root nginx and by no other uid."""
CONFINEMENT = defaults.Confinement(
    user=ACME_USER,
    # lego's own temporary files; the certificates go to the volumes.
    writable={"/tmp": 16},  # noqa: S108 - the container's own tmpfs
    nproc=128,
    cpu_shares=256,
)
SETUP_CONFINEMENT = defaults.Confinement(
    # Root for one `chown` (its one capability): Docker creates the volumes root-owned.
    user="0:0",
    nproc=64,
    cpu_shares=256,
)
FIRST_ISSUE_SECONDS = 600
"""How long `pulumi up` waits for the first certificate (the DNS record must propagate first)."""
_SHIPPED = Path(__file__).parent / "shipped" / "acme"
RENEW_SCRIPT = (_SHIPPED / "renew.sh").read_text()


@dataclass(frozen=True, kw_only=True)
class AcmeCertificateArgs:
    """Inputs of `AcmeCertificate`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    acme: AcmeSettings
    """Names, directory, contact, DNS provider, zone and image."""
    dns_token: pulumi.Input[str] | None
    """The user's DNS-01 token (secret); None: the stack creates one limited to the zone's DNS."""
    memory_mb: int = 64
    """Memory limit of the lego container."""


class AcmeCertificate(pulumi.ComponentResource):
    """lego in a long-running container that obtains the edge's certificate and renews it by itself.

    It reaches only the ACME directory and the DNS provider's API, through a network of its own; no
    port is published and nothing can connect to it. The account key and certificates live on a
    state volume only it mounts; it installs key and chain as one file on a second volume, which
    nginx mounts read-only and reloads from when the file changes. Both volumes outlive container
    replacements, so `pulumi up` never orders a certificate again (ACME rate limits).
    """

    live_volume: docker.Volume
    container: docker.Container

    def __init__(self, name: str, args: AcmeCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.docker_prefix
        image = docker.RemoteImage(f"{name}-image", name=args.acme.image.reference, keep_locally=True, opts=child)
        state = docker.Volume(f"{name}-state", name=f"{prefix}-acme-state", opts=child)
        self.live_volume = docker.Volume(f"{name}-live", name=f"{prefix}-acme-live", opts=child)
        egress = docker.Network(
            f"{name}-egress", name=f"{prefix}-acme-egress", driver="bridge", internal=False, opts=child
        )
        mounts = [
            docker.ContainerVolumeArgs(volume_name=state.name, container_path=STATE_DIR),
            docker.ContainerVolumeArgs(volume_name=self.live_volume.name, container_path=LIVE_DIR),
        ]
        setup = self._volume_setup(name, prefix, image, mounts, child)
        context = acme_context(args.acme)
        token = args.dns_token
        if token is None:
            from components.acme_token import dns_edit_token  # imports pulumi_cloudflare: seconds

            token = dns_edit_token(f"{name}-dns-token", f"{prefix}-acme-dns01", args.acme.zone_id, self)
        self.container = docker.Container(
            f"{name}-container",
            name=f"{prefix}-acme",
            image=image.image_id,
            entrypoints=["/bin/sh", "-c", RENEW_SCRIPT, "llmstack-acme"],
            command=lego_arguments(context),
            envs=[
                *loop_environment(context),
                pulumi.Output.concat(f"{DNS_TOKEN_ENV[args.acme.dns_provider]}=", pulumi.Output.secret(token)),
            ],
            volumes=mounts,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=egress.name)],
            # Healthy once a certificate is installed: nginx is created only then.
            healthcheck=defaults.healthcheck(
                ["CMD", "/bin/sh", "-c", f"test -s {context.live_file}"], start_period_seconds=FIRST_ISSUE_SECONDS
            ),
            **defaults.long_running(
                confinement=CONFINEMENT,
                memory_mb=args.memory_mb,
                wait_timeout_seconds=FIRST_ISSUE_SECONDS,
                grace_seconds=10,
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[setup], replace_on_changes=defaults.REPLACE_ON_HEALTHCHECK
            ),
        )
        checked = pulumi.Output.all(setup.urn, setup.exit_code, setup.container_logs).apply(
            lambda result: defaults.checked_exit(
                "preparing the ACME volumes", result[0], result[1], result[2], preview=pulumi.runtime.is_dry_run()
            )
        )
        self.register_outputs({"volumeSetup": checked})

    def _volume_setup(
        self,
        name: str,
        prefix: str,
        image: docker.RemoteImage,
        mounts: list[docker.ContainerVolumeArgs],
        child: pulumi.ResourceOptions,
    ) -> docker.Container:
        """A one-shot root job that hands the new volumes to lego's user (Docker creates them root-owned)."""
        return docker.Container(
            f"{name}-volume-setup",
            name=f"{prefix}-acme-volume-setup",
            image=image.image_id,
            entrypoints=["/bin/sh", "-c"],
            command=[f"chown {ACME_USER} {STATE_DIR} {LIVE_DIR} && chmod 0700 {STATE_DIR} && chmod 0750 {LIVE_DIR}"],
            volumes=mounts,
            network_mode="none",
            logs=True,
            **{
                **defaults.one_shot(confinement=SETUP_CONFINEMENT, memory_mb=32),
                "capabilities": defaults.capabilities("CHOWN"),
            },
            opts=child,
        )


def acme_context(acme: AcmeSettings) -> AcmeContext:
    """The ACME container's context for `acme`."""
    return AcmeContext(
        names=acme.names,
        directory=acme.directory,
        email=acme.email,
        dns_provider=acme.dns_provider,
        state_dir=STATE_DIR,
        live_file=f"{LIVE_DIR}/{LIVE_FILE_NAME}",
    )
