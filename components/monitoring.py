"""Prometheus, the exporters it scrapes and Alertmanager: the stack's metrics and alerts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.alert_rules import AlertRulesContext, render_alert_rules
from components.render.monitoring import (
    AlertmanagerContext,
    EmailReceiver,
    PrometheusContext,
    render_alertmanager_config,
    render_prometheus_config,
)
from components.settings.model import AlertReceivers, ImageRef, ModelSpec, MonitoringSettings

RESOURCE_TYPE = "llmstack:index:Monitoring"
PROMETHEUS_ALIAS, PROMETHEUS_PORT = "prometheus", 9090
ALERTMANAGER_ALIAS, ALERTMANAGER_PORT = "alertmanager", 9093
NGINX_EXPORTER_ALIAS, NGINX_EXPORTER_PORT = "nginx-exporter", 9113
PROBE_ALIAS, PROBE_PORT = "model-probe", 9101
PROMETHEUS_DIR = "/etc/prometheus"
PROMETHEUS_CONFIG = f"{PROMETHEUS_DIR}/prometheus.yml"
RULES_NAME = "llmstack-rules.yml"
"""Beside prometheus.yml, which names it relative to itself."""
ALERTMANAGER_DIR = "/etc/alertmanager"
ALERTMANAGER_CONFIG = f"{ALERTMANAGER_DIR}/alertmanager.yml"
PROBE_DIR = "/opt/llmstack"
PROBE_SCRIPT = f"{PROBE_DIR}/llmstack_probe.py"
_PROBE_TEXT = (Path(__file__).parent / "shipped" / "probe" / "llmstack_probe.py").read_text()
EXPORTER_MEMORY_MB = 32
PROBE_MEMORY_MB = 64
ALERTMANAGER_MEMORY_MB = 64
NOBODY = "65534:65534"
"""The user of the Prometheus, Alertmanager and exporter images (`USER nobody`), and of LiteLLM.
The kernel counts RLIMIT_NPROC per uid across the host, so each of them gets the same ceiling:
the budget of every `nobody` process together, LiteLLM's gunicorn workers included."""
NOBODY_NPROC = 1024


def _confinement(writable: dict[str, int], cpu_shares: int) -> defaults.Confinement:
    return defaults.Confinement(user=NOBODY, writable=writable, nproc=NOBODY_NPROC, cpu_shares=cpu_shares)


PROMETHEUS_CONFINEMENT = _confinement({}, 512)
"""It writes only its data volume (the image's /prometheus, nobody's)."""
ALERTMANAGER_CONFINEMENT = _confinement({"/alertmanager": 16}, 256)
"""Silences and the notification log: lost with the container, as they were on a replacement."""
EXPORTER_CONFINEMENT = _confinement({}, 256)
PROBE_CONFINEMENT = _confinement({"/tmp": 16}, 256)  # noqa: S108 - the container's own tmpfs


@dataclass(frozen=True, kw_only=True)
class Secrets:
    """The alert receivers' credentials (secret Outputs), when set."""

    webhook_url: pulumi.Output[str] | None
    smtp_password: pulumi.Output[str] | None


@dataclass(frozen=True, kw_only=True)
class ProbedHost:
    """A GPU pool's host as the probe asks it: through the egress, as LiteLLM reaches it."""

    name: str
    url: str
    models: tuple[ModelSpec, ...]


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Inputs of `Monitoring`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    settings: MonitoringSettings
    """Images, bounds and receivers."""
    probe_image: ImageRef
    """The image the probe runs in: LiteLLM's, already pulled for the gateway (python3 and cryptography)."""
    monitoring_network: docker.Network
    """Internal network shared with the scraped containers."""
    publish_network: docker.Network
    """Prometheus's own network, its port published on the host's 127.0.0.1."""
    alert_egress_network: docker.Network
    """Alertmanager's own way out."""
    models_network: docker.Network
    """Internal network of Ollama, which the probe asks for its models."""
    nginx_status_url: str
    """nginx's status page as the exporter reaches it."""
    gateway_target: str
    """LiteLLM's `host:port` on the monitoring network."""
    edge_target: str
    """nginx's HTTPS `host:port` on the monitoring network (the probe reads its certificate)."""
    ollama_url: str
    """Ollama's base URL on the models network."""
    models: tuple[ModelSpec, ...]
    """The served models the probe looks for."""
    pool: tuple[ProbedHost, ...] = ()
    """A GPU pool's hosts, asked instead of `ollama_url` (each with the models it carries)."""
    tunnel_target: str | None
    """The tunnel watch's `host:port` (cloudflared's `/metrics`), in tunnel mode."""
    tunnel_watch_network: docker.Network | None = None
    """In tunnel mode, the network Prometheus shares with cloudflared alone, to reach the watch."""
    secrets: Secrets
    """Receiver credentials."""


class Monitoring(pulumi.ComponentResource):
    """Prometheus on the internal monitoring network, published on the host's 127.0.0.1 only.

    It scrapes nginx (through the nginx exporter: nginx shows its status page to this network
    alone), LiteLLM's `/metrics` (every worker's samples summed) and the probe (Ollama and its
    models, the edge certificate's expiry). Its rules send alerts to Alertmanager, which runs only
    when a receiver is configured and alone has a way out; its config carries the receivers'
    credentials and is uploaded as a secret.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._name, self._args, self._child = name, args, child
        receivers = args.settings.receivers
        self._exporter()
        self._probe()
        self._alertmanager(receivers)
        self._prometheus(alerting=receivers.any)
        self.register_outputs({})

    def _image(self, role: str, image: ImageRef) -> docker.RemoteImage:
        return docker.RemoteImage(
            f"{self._name}-{role}-image", name=image.reference, keep_locally=True, opts=self._child
        )

    def _files(self, role: str, image: pulumi.Input[str], mount_path: str, *files: DeliveredFile) -> DeliveredFiles:
        """A read-only container's files, in a volume its carrier fills (delivered_files.py)."""
        return DeliveredFiles(
            f"{self._name}-{role}-files",
            DeliveredFilesArgs(
                docker_name=f"{self._args.docker_prefix}-{role}-files",
                image=image,
                user=NOBODY,
                mount_path=mount_path,
                files=files,
            ),
            opts=self._child,
        )

    def _on_monitoring(self, alias: str) -> docker.ContainerNetworksAdvancedArgs:
        return docker.ContainerNetworksAdvancedArgs(name=self._args.monitoring_network.name, aliases=[alias])

    def _prometheus(self, *, alerting: bool) -> None:
        args, settings = self._args, self._args.settings
        config = PrometheusContext(
            self_target=f"127.0.0.1:{PROMETHEUS_PORT}",
            nginx_exporter_target=f"{NGINX_EXPORTER_ALIAS}:{NGINX_EXPORTER_PORT}",
            gateway_target=args.gateway_target,
            probe_target=f"{PROBE_ALIAS}:{PROBE_PORT}",
            tunnel_target=args.tunnel_target,
            alertmanager_target=f"{ALERTMANAGER_ALIAS}:{ALERTMANAGER_PORT}" if alerting else None,
            rule_files=(RULES_NAME,),
        )
        data = docker.Volume(
            f"{self._name}-prometheus-data", name=f"{args.docker_prefix}-prometheus-data", opts=self._child
        )
        memory = settings.prometheus_limits.memory_mb
        image = self._image("prometheus", settings.prometheus_image).image_id
        files = self._files(
            "prometheus",
            image,
            PROMETHEUS_DIR,
            DeliveredFile(path=PROMETHEUS_CONFIG, content=render_prometheus_config(config)),
            DeliveredFile(
                path=f"{PROMETHEUS_DIR}/{RULES_NAME}",
                content=render_alert_rules(AlertRulesContext(tunnel=args.tunnel_target is not None)),
            ),
        )
        docker.Container(
            f"{self._name}-prometheus",
            name=f"{args.docker_prefix}-prometheus",
            image=image,
            command=[
                f"--config.file={PROMETHEUS_CONFIG}",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={settings.retention_days}d",
                f"--storage.tsdb.retention.size={settings.retention_mb}MB",
                f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
            ],
            # Go's collector keeps the heap under the container's limit instead of meeting the OOM killer.
            envs=[f"GOMEMLIMIT={memory * 8 // 10}MiB", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount(), docker.ContainerVolumeArgs(volume_name=data.name, container_path="/prometheus")],
            ports=[
                docker.ContainerPortArgs(
                    internal=PROMETHEUS_PORT, external=settings.port, ip="127.0.0.1", protocol="tcp"
                )
            ],
            networks_advanced=[
                self._on_monitoring(PROMETHEUS_ALIAS),
                docker.ContainerNetworksAdvancedArgs(name=args.publish_network.name),
                *(
                    [docker.ContainerNetworksAdvancedArgs(name=args.tunnel_watch_network.name)]
                    if args.tunnel_watch_network is not None
                    else []
                ),
            ],
            healthcheck=_http_check(PROMETHEUS_PORT),
            **defaults.long_running(
                confinement=PROMETHEUS_CONFINEMENT,
                memory_mb=memory,
                wait_timeout_seconds=120,
                grace_seconds=defaults.DRAIN_SECONDS,
            ),
            opts=defaults.serving_options(self, depends_on=[files.carrier]),
        )

    def _exporter(self) -> None:
        args = self._args
        docker.Container(
            f"{self._name}-nginx-exporter",
            name=f"{args.docker_prefix}-nginx-exporter",
            image=self._image("nginx-exporter", args.settings.nginx_exporter_image).image_id,
            command=[
                f"-nginx.scrape-uri={args.nginx_status_url}",
                f"-web.listen-address=:{NGINX_EXPORTER_PORT}",
            ],
            networks_advanced=[self._on_monitoring(NGINX_EXPORTER_ALIAS)],
            # The image is FROM scratch: no shell for a healthcheck; Prometheus's `up` watches it. So
            # `pulumi up` cannot wait for it to be healthy (it never would be): it waits for running.
            **{
                **defaults.long_running(
                    confinement=EXPORTER_CONFINEMENT,
                    memory_mb=EXPORTER_MEMORY_MB,
                    wait_timeout_seconds=60,
                    grace_seconds=10,
                ),
                "wait": False,
            },
            opts=defaults.serving_options(self),
        )

    def _probe(self) -> None:
        args = self._args
        image = self._image("probe", args.probe_image).image_id
        files = self._files("probe", image, PROBE_DIR, DeliveredFile(path=PROBE_SCRIPT, content=_PROBE_TEXT))
        docker.Container(
            f"{self._name}-probe",
            name=f"{args.docker_prefix}-model-probe",
            image=image,
            entrypoints=["python3"],
            command=_probe_command(args),
            envs=["PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount()],
            networks_advanced=[
                self._on_monitoring(PROBE_ALIAS),
                docker.ContainerNetworksAdvancedArgs(name=args.models_network.name),
            ],
            healthcheck=defaults.healthcheck(
                ["CMD", "python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {PROBE_PORT}), 4)"],
                start_period_seconds=10,
            ),
            **defaults.long_running(
                confinement=PROBE_CONFINEMENT, memory_mb=PROBE_MEMORY_MB, wait_timeout_seconds=60, grace_seconds=10
            ),
            opts=defaults.serving_options(self, depends_on=[files.carrier]),
        )

    def _alertmanager(self, receivers: AlertReceivers) -> None:
        if not receivers.any:
            return
        args = self._args
        config: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(
                webhook=args.secrets.webhook_url if receivers.webhook else None,
                password=args.secrets.smtp_password or "",
            ).apply(lambda values: render_alertmanager_config(_alertmanager_context(receivers, values)))
        )
        image = self._image("alertmanager", args.settings.alertmanager_image).image_id
        # Secret as a whole (webhook URL, SMTP password); root-owned 0444 for the image's user nobody.
        files = self._files(
            "alertmanager", image, ALERTMANAGER_DIR, DeliveredFile(path=ALERTMANAGER_CONFIG, content=config)
        )
        docker.Container(
            f"{self._name}-alertmanager",
            name=f"{args.docker_prefix}-alertmanager",
            image=image,
            command=[
                f"--config.file={ALERTMANAGER_CONFIG}",
                "--storage.path=/alertmanager",
                f"--web.listen-address=0.0.0.0:{ALERTMANAGER_PORT}",
                # One instance: no gossip port for peers that do not exist.
                "--cluster.listen-address=",
            ],
            envs=[pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount()],
            networks_advanced=[
                self._on_monitoring(ALERTMANAGER_ALIAS),
                docker.ContainerNetworksAdvancedArgs(name=args.alert_egress_network.name),
            ],
            healthcheck=_http_check(ALERTMANAGER_PORT),
            **defaults.long_running(
                confinement=ALERTMANAGER_CONFINEMENT,
                memory_mb=ALERTMANAGER_MEMORY_MB,
                wait_timeout_seconds=60,
                grace_seconds=10,
            ),
            opts=defaults.serving_options(self, depends_on=[files.carrier]),
        )


def _alertmanager_context(receivers: AlertReceivers, values: dict[str, str | None]) -> AlertmanagerContext:
    """The Alertmanager config's inputs, credentials revealed (inside a secret Output only)."""
    email = None
    if receivers.email_to:
        email = EmailReceiver(
            to=receivers.email_to,
            sender=receivers.email_from,
            smarthost=receivers.smtp_host,
            username=receivers.smtp_user,
            password=values["password"] or "",
        )
    return AlertmanagerContext(webhook_url=values["webhook"], email=email)


def _http_check(port: int) -> docker.ContainerHealthcheckArgs:
    """The Prometheus images' own health route, asked with their busybox wget."""
    return defaults.healthcheck(
        ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/-/healthy"], start_period_seconds=30
    )


def _probe_command(args: MonitoringArgs) -> list[str]:
    """The probe's command: the stack's one Ollama, or each pool host with the models it carries."""
    listen = ("--listen", f"0.0.0.0:{PROBE_PORT}")
    if not args.pool:
        models = (a for m in args.models for a in ("--model", f"{m.name}={m.tag}"))
        return [PROBE_SCRIPT, *listen, "--ollama", args.ollama_url, "--edge", args.edge_target, *models]
    return [
        *(PROBE_SCRIPT, *listen, "--edge", args.edge_target),
        *(a for host in args.pool for a in ("--host", host.name, host.url)),
        *(a for host in args.pool for m in host.models for a in ("--host-model", host.name, f"{m.name}={m.tag}")),
    ]
