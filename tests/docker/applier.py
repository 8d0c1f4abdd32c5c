"""Applies a program's registrations to a real Docker engine, as `pulumi up` would.

Test double: it stands in for the Pulumi engine and the pulumi-docker provider, which cannot run
here. It takes exactly what the program registered (`offline.engine.run_offline`: type, name, wire inputs,
options) and does what `pulumi up` with the docker provider does, through the Engine API on the local
socket, in the provider's order: networks and volumes, image lookups, then containers in dependency
order — create (every mapped option), connect the additional networks (aliases, fixed addresses),
upload files with their modes before start, start; `attach` containers run to completion and a
non-zero exit fails the apply; `wait` containers are waited for healthy. Changes are applied as the
provider applies them: restart and memory limits in place; a healthcheck or wait change is recorded
and never applied (unless `replaceOnChanges` names it); any other container input by delete-then-create.
Capabilities reach the engine spelt as the docker Go client rewrites them, and `read_back`/`drift`
say what the provider's Read would store, so a second `up` that the provider would not see as a no-op
is seen here too.

What it does not reproduce (the real-engine tier covers these): the provider's state and its
refresh, `customTimeouts`, `exit_code` left unset by an interrupted create, image pulls, GPUs,
`log_opts` merged from a daemon.json (this engine has none), ports read back by Read.

It never second-guesses the program: an input it cannot map is a failure, never a silent skip. There
is no registry: `RemoteImage` must already be present (the stand-in images, `tests/docker/images.py`),
and a GPU request fails (there is no GPU here).
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from offline.engine import OfflineRun, Registration, reveal
from offline.standins import stand_in_image_id

SOCKET = "/var/run/docker.sock"
API = "http://docker/v1.41"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
REMOTE_CONFIG_FILE = "/etc/cloudflared/standin-remote-config.json"
"""Where the cloudflared stand-in finds its tunnel's remotely managed ingress (see `_remote_config`)."""
PROVIDER_DEFAULT_IP = "0.0.0.0"  # noqa: S104 - what the provider publishes on when `ip` is unset
IN_PLACE = frozenset({"restart", "memory", "memorySwap", "cpuShares"})
"""Container inputs the provider updates without replacing the container (ContainerUpdate)."""
RECORDED_ONLY = frozenset({"healthcheck", "wait", "waitTimeout", "destroyGraceSeconds", "logs", "tmpfs"})
"""Container inputs whose change the provider records in state without touching the container
(the schema's non-ForceNew fields resourceDockerContainerUpdate ignores; `user`, `readOnly`,
`ulimits` and `labels` are ForceNew: a change replaces)."""
COMPUTED = frozenset({"stopSignal", "securityOpts", "healthcheck", "user"})
"""Inputs the provider's schema marks Optional+Computed (`user`: "" suppressed): unset, no diff."""
_CONTAINER_KEYS = frozenset(
    {
        "name",
        "image",
        "envs",
        "command",
        "entrypoints",
        "ports",
        "networksAdvanced",
        "networkMode",
        "volumes",
        "uploads",
        "healthcheck",
        "memory",
        "capabilities",
        "securityOpts",
        "logDriver",
        "logOpts",
        "restart",
        "attach",
        "mustRun",
        "logs",
        "wait",
        "waitTimeout",
        "gpus",
        "deviceRequests",
        "start",
        "memorySwap",
        "destroyGraceSeconds",
        "stopSignal",
        "user",
        "readOnly",
        "tmpfs",
        "ulimits",
        "cpuShares",
        "labels",
        "sysctls",
    }
)


class ApplyError(Exception):
    """The engine refused something, or an input has no mapping here."""


def engine_available(path: str = SOCKET) -> str | None:
    """The engine's version when one answers on the socket at `path`, else None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(3)
            connection.connect(path)
            connection.sendall(b"GET /v1.41/version HTTP/1.0\r\nHost: docker\r\n\r\n")
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
        return str(json.loads(response.split(b"\r\n\r\n", 1)[1])["Version"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def _duration_ns(text: str) -> int:
    """A Go duration ("15s", "1m30s", "500ms") in nanoseconds."""
    units = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ApplyError(f"cannot parse duration {text!r}")
    return int(sum(float(n) * units[u] for n, u in parts))


@dataclass
class Applier:
    """One stack's resources on the local engine; `ids` maps container resource names to Docker ids."""

    log: Callable[[str], None] = print
    ids: dict[str, str] = field(default_factory=dict)
    applied: OfflineRun | None = None
    engine_socket: str = SOCKET
    """The engine's socket (another engine's for a GPU host of the pool, tests/docker/gpu_hosts.py)."""

    def __post_init__(self) -> None:
        self._tunnels: dict[str, Any] = {}
        self._token_files: set[str] = set()
        # The render's image IDs (offline.standins) → this engine's ID of the same image, as the
        # provider gives a container the pulled image's ID.
        self._image_ids: dict[str, str] = {}
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(uds=self.engine_socket), timeout=httpx.Timeout(30, read=None)
        )

    # --- Engine API -------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok: Iterable[int] = (200, 201, 204), **kwargs: Any) -> Any:
        response = self._http.request(method, f"{API}{path}", **kwargs)
        if response.status_code not in tuple(ok):
            raise ApplyError(f"{method} {path}: {response.status_code} {response.text.strip()}")
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else None

    def inspect(self, resource: str) -> dict[str, Any]:
        """`docker inspect` of a container resource."""
        result: dict[str, Any] = self._call("GET", f"/containers/{self.ids[resource]}/json")
        return result

    def logs(self, resource: str) -> str:
        """Stdout and stderr of a container resource (the multiplexed stream, demultiplexed)."""
        raw = self._http.get(f"{API}/containers/{self.ids[resource]}/logs?stdout=1&stderr=1&tail=200").content
        out, offset = [], 0
        while offset + 8 <= len(raw):
            size = int.from_bytes(raw[offset + 4 : offset + 8], "big")
            out.append(raw[offset + 8 : offset + 8 + size].decode(errors="replace"))
            offset += 8 + size
        return "".join(out)

    # --- apply / update / destroy -----------------------------------------------------------
    def apply(self, run: OfflineRun) -> None:
        """Create every resource of `run` (a fresh stack)."""
        self._tunnels, self._token_files = _tunnel_configs(run), _token_files(run)
        for registration in _in_dependency_order(run.resources):
            self._create(registration)
        self.applied = run

    def update(self, run: OfflineRun) -> list[str]:
        """Apply what changed since the last apply/update, as `pulumi up` would; returns what was replaced."""
        if self.applied is None:
            raise ApplyError("nothing applied yet")
        before = {r.name: r for r in self.applied.resources}
        self._tunnels, self._token_files = _tunnel_configs(run), _token_files(run)
        replaced = []
        for registration in _in_dependency_order(run.resources):
            old = before.get(registration.name)
            if old is None:
                self._create(registration)
                continue
            if reveal(old.inputs) == reveal(registration.inputs):
                continue
            if registration.type not in (CONTAINER, IMAGE) and registration.type.startswith("docker:"):
                raise ApplyError(f"{registration.name}: replacing a {registration.type} is not supported here")
            if registration.type != CONTAINER:
                continue
            changed = {
                k for k in {*old.inputs, *registration.inputs} if old.inputs.get(k) != registration.inputs.get(k)
            }
            forced = changed & set(registration.options.get("replaceOnChanges") or [])
            if changed <= IN_PLACE | RECORDED_ONLY and not forced:
                if changed & IN_PLACE:
                    self._update_in_place(registration)
            else:
                self.log(f"apply: replace {registration.name} (changed: {', '.join(sorted(changed))})")
                self.delete_container(registration.name)
                self._create(registration)
                replaced.append(registration.name)
        removed = set(before) - {r.name for r in run.resources}
        for name in removed:
            if before[name].type == CONTAINER:
                self.delete_container(name)
        self.applied = run
        return replaced

    def replace(self, name: str, gap: float = 0.0, changes: dict[str, Any] | None = None) -> None:
        """Replace one container resource the provider's way: delete, then create and start.

        `gap` seconds pass in between, as when the new image is still being pulled. `changes`
        replaces inputs of the new container (a measurement's variant), not of the applied run.
        """
        if self.applied is None:
            raise ApplyError("nothing applied yet")
        registration = self.applied.named(name)
        self.delete_container(name)
        time.sleep(gap)
        if changes:
            self._container(name, {**reveal(registration.inputs), **changes})
        else:
            self._create(registration)

    def destroy(self, run: OfflineRun | None = None) -> None:
        """Remove every container, volume and network of `run` (default: the last applied), by name.

        Test cleanup, not `pulumi destroy`: protected volumes go too, and leftovers of an earlier,
        interrupted session are removed the same way.
        """
        run = run or self.applied
        if run is None:
            return
        for registration in reversed(_in_dependency_order(run.resources)):
            inputs = reveal(registration.inputs)
            if registration.type == CONTAINER:
                self.ids.pop(registration.name, None)
                self._call("DELETE", f"/containers/{inputs['name']}?force=1&v=1", ok=(204, 404))
            elif registration.type == VOLUME:
                self._call("DELETE", f"/volumes/{inputs['name']}", ok=(204, 404))
            elif registration.type == NETWORK:
                self._call("DELETE", f"/networks/{inputs['name']}", ok=(204, 404))
        self.applied = None

    def close(self) -> None:
        """Close the connection to the engine."""
        self._http.close()

    def delete_container(self, name: str) -> None:
        """What the provider's delete does: stop, then force-remove (SIGKILL whatever still runs).

        The stop gives the container `destroyGraceSeconds` (from the applied, i.e. the old, inputs)
        when set, except for `attach` containers.
        """
        container_id = self.ids.pop(name)
        inputs = reveal(self.applied.named(name).inputs) if self.applied else {}
        grace = int(inputs.get("destroyGraceSeconds") or 0)
        if grace > 0 and not inputs.get("attach"):
            # The engine sends the container's stop signal, then SIGKILL after `t` seconds.
            self._call("POST", f"/containers/{container_id}/stop?t={grace}", ok=(204, 304, 404))
        self._call("DELETE", f"/containers/{container_id}?force=1&v=1", ok=(204, 404))

    def read_back(self, name: str) -> dict[str, Any]:
        """What the provider's Read stores for container resource `name`, in input (wire) form.

        Only the inputs whose read-back form can differ from what was sent: capabilities as the
        engine stores them, memory and swap in MB (swap -1 stays -1), healthcheck durations as
        Go's Duration.String(), security and log options, the stop signal, the confinement
        (user, read-only root, tmpfs options, ulimits, CPU shares) and sysctls as the engine stores them.
        """
        found = self.inspect(name)
        host, config = found["HostConfig"], found["Config"]
        swap = int(host.get("MemorySwap") or 0)
        state: dict[str, Any] = {
            "memory": int(host.get("Memory") or 0) // 2**20,
            "memorySwap": swap // 2**20 if swap > 0 else swap,
            "securityOpts": host.get("SecurityOpt") or [],
            "logOpts": (host.get("LogConfig") or {}).get("Config") or {},
            "user": config.get("User") or "",
            "readOnly": bool(host.get("ReadonlyRootfs")),
            "tmpfs": host.get("Tmpfs") or {},
            "ulimits": [{"name": u["Name"], "soft": u["Soft"], "hard": u["Hard"]} for u in host.get("Ulimits") or []],
            "cpuShares": int(host.get("CpuShares") or 0),
            "sysctls": host.get("Sysctls") or {},
        }
        if host.get("CapAdd") or host.get("CapDrop"):
            state["capabilities"] = {
                k: v for k, v in {"adds": host.get("CapAdd"), "drops": host.get("CapDrop")}.items() if v
            }
        check = config.get("Healthcheck")
        if check:
            state["healthcheck"] = {
                "tests": check["Test"],
                "interval": _go_duration(check.get("Interval", 0)),
                "timeout": _go_duration(check.get("Timeout", 0)),
                "startPeriod": _go_duration(check.get("StartPeriod", 0)),
                "retries": int(check.get("Retries", 0)),
            }
        if config.get("StopSignal"):
            state["stopSignal"] = config["StopSignal"]
        return state

    def drift(self, run: OfflineRun) -> dict[str, dict[str, tuple[Any, Any]]]:
        """Per container: the inputs of `run` that differ from what the provider would read back.

        Empty when a second `pulumi up` of `run` finds nothing to change in these inputs. Sets
        (capabilities, security options) compare as sets, as the provider's schema does; an unset
        `COMPUTED` input takes whatever is read back (e.g. the image's STOPSIGNAL), as the schema's
        Optional+Computed fields do.
        """
        found: dict[str, dict[str, tuple[Any, Any]]] = {}
        for registration in run.of_type(CONTAINER):
            if registration.name not in self.ids:
                continue
            inputs, state = reveal(registration.inputs), self.read_back(registration.name)
            differences = {
                key: (inputs.get(key), value)
                for key, value in state.items()
                if not (key in COMPUTED and key not in inputs)
                and _comparable(key, inputs.get(key)) != _comparable(key, value)
            }
            mode = inputs.get("networkMode") or ""
            if mode.startswith("container:"):
                # Read stores HostConfig.NetworkMode, where the engine keeps the joined container's full id.
                stored = self.inspect(registration.name)["HostConfig"]["NetworkMode"]
                if self._network_mode(registration.name, mode) != stored:
                    differences["networkMode"] = (mode, stored)
            if differences:
                found[registration.name] = differences
        return found

    # --- per type ---------------------------------------------------------------------------
    def _create(self, registration: Registration) -> None:
        inputs = reveal(registration.inputs)
        if registration.type == NETWORK:
            self._network(registration.name, inputs)
        elif registration.type == VOLUME:
            _only(registration.name, inputs, {"name", "driver", "driverOpts", "labels"})
            self._call(
                "POST", "/volumes/create", json={"Name": inputs["name"], "Driver": inputs.get("driver", "local")}
            )
        elif registration.type == IMAGE:
            reference = inputs["name"]
            found = self._http.get(f"{API}/images/{reference}/json")
            if found.status_code != 200:
                raise ApplyError(
                    f"{registration.name}: image {reference} is not on the engine and there is no registry "
                    "here: build the stand-ins (python -m tests.docker.images)"
                )
            self._image_ids[stand_in_image_id(reference)] = found.json()["Id"]
        elif registration.type == CONTAINER:
            self._container(registration.name, inputs)
        elif registration.type.startswith("docker:"):
            raise ApplyError(f"{registration.name}: no mapping for {registration.type}")

    def _network(self, name: str, inputs: dict[str, Any]) -> None:
        _only(name, inputs, {"name", "driver", "internal", "ipamConfigs", "attachable", "options"})
        ipam = [
            {
                k: v
                for k, v in {
                    "Subnet": c.get("subnet"),
                    "Gateway": c.get("gateway"),
                    "IPRange": c.get("ipRange"),
                }.items()
                if v
            }
            for c in inputs.get("ipamConfigs") or []
        ]
        self._call(
            "POST",
            "/networks/create",
            json={
                "Name": inputs["name"],
                "Driver": inputs.get("driver", "bridge"),
                "Internal": bool(inputs.get("internal", False)),
                "Attachable": bool(inputs.get("attachable", False)),
                "Options": inputs.get("options") or {},
                "IPAM": {"Driver": "default", "Config": ipam},
                "CheckDuplicate": True,
            },
        )

    def _container(self, name: str, inputs: dict[str, Any]) -> None:
        _only(name, inputs, _CONTAINER_KEYS)
        gpus = inputs.get("gpus") or inputs.get("deviceRequests")
        if gpus not in (None, "", "none"):
            raise ApplyError(
                f"{name}: gpus={gpus!r} needs a GPU and the NVIDIA container toolkit; this engine has neither"
            )
        host = _host_config(name, inputs)
        exposed: dict[str, dict[str, Any]] = {}
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in inputs.get("ports") or []:
            key = f"{int(port['internal'])}/{port.get('protocol', 'tcp')}"
            exposed[key] = {}
            bindings.setdefault(key, []).append(
                {"HostIp": port.get("ip", PROVIDER_DEFAULT_IP), "HostPort": str(int(port["external"]))}
            )
        host["PortBindings"] = bindings or None
        networks = inputs.get("networksAdvanced") or []
        endpoints: dict[str, Any] = {}
        if networks:
            host["NetworkMode"] = networks[0]["name"]
            endpoints = {networks[0]["name"]: _endpoint(networks[0])}
        elif "networkMode" in inputs:
            host["NetworkMode"] = self._network_mode(name, inputs["networkMode"])
        config: dict[str, Any] = {
            "Image": self._image_ids.get(inputs["image"], inputs["image"]),
            "Env": inputs.get("envs") or [],
            "Cmd": inputs.get("command"),
            "Entrypoint": inputs.get("entrypoints"),
            "ExposedPorts": exposed or None,
            "Healthcheck": _healthcheck(inputs.get("healthcheck")),
            "StopSignal": inputs.get("stopSignal"),
            "User": inputs.get("user", ""),
            "Labels": {label["label"]: label["value"] for label in inputs.get("labels") or []} or None,
            "HostConfig": host,
            "NetworkingConfig": {"EndpointsConfig": endpoints},
        }
        container = self._call("POST", f"/containers/create?name={inputs['name']}", json=config)
        self.ids[name] = container_id = container["Id"]
        for network in networks[1:]:
            self._call(
                "POST",
                f"/networks/{network['name']}/connect",
                json={"Container": container_id, "EndpointConfig": _endpoint(network)},
            )
        uploads = [*(inputs.get("uploads") or []), *self._remote_config(inputs)]
        if uploads:
            self._call("PUT", f"/containers/{container_id}/archive?path=/", content=_upload_tar(name, uploads))
        if not inputs.get("start", True):
            return
        self._call("POST", f"/containers/{container_id}/start")
        if inputs.get("attach"):
            status = self._call("POST", f"/containers/{container_id}/wait", json=None)
            if status["StatusCode"] != 0:
                raise ApplyError(f"{name} exited with {status['StatusCode']}:\n{self.logs(name)}")
            self.log(f"apply: {name} ran to completion (exit 0)")
        elif inputs.get("wait"):
            self.wait_healthy(name, float(inputs.get("waitTimeout", 60)))

    def wait_healthy(self, name: str, timeout: float) -> float:
        """Wait until the container's own healthcheck says healthy; returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = self.inspect(name)["State"]
            if not state["Running"]:
                raise ApplyError(f"{name} stopped (exit {state['ExitCode']}):\n{self.logs(name)}")
            if state.get("Health", {}).get("Status") == "healthy":
                return time.monotonic() - started
            time.sleep(0.5)
        raise ApplyError(f"{name} not healthy after {timeout} s:\n{self.logs(name)}")

    def _remote_config(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        """Cloudflare's side of a tunnel, beside the connector's token (in its environment or uploads).

        With `config_src="cloudflare"` the real cloudflared fetches its ingress from Cloudflare's API
        with its token. There is no Cloudflare here: the program's `ZeroTrustTunnelCloudflaredConfig`
        for the token's tunnel is delivered as a file the stand-in reads (the only file this applier
        adds to a container): to the container that receives the token file (the connector's file
        carrier, whose volume the read-only connector mounts), or to a connector given the token
        in its environment.
        """
        envs = dict(e.split("=", 1) for e in inputs.get("envs") or [])
        files = {u["file"]: u["content"] for u in inputs.get("uploads") or []}
        tokens = [envs["TUNNEL_TOKEN"]] if "TUNNEL_TOKEN" in envs else []
        tokens += [str(files[path]).strip() for path in sorted(self._token_files & set(files))]
        if not tokens:
            return []
        tunnel = json.loads(base64.b64decode(tokens[0]))["t"]
        if tunnel not in self._tunnels:
            raise ApplyError(f"{inputs['name']}: no tunnel configuration registered for tunnel {tunnel}")
        content = json.dumps({tunnel: self._tunnels[tunnel]})
        return [{"file": REMOTE_CONFIG_FILE, "content": content, "permissions": "0444"}]

    def _network_mode(self, name: str, mode: str) -> str:
        if not mode.startswith("container:"):
            return mode
        # The program passes another container's resource id (the mocks' `<resource>-id`).
        target = mode.removeprefix("container:").removesuffix("-id")
        if target not in self.ids:
            raise ApplyError(f"{name}: networkMode {mode!r} names no container applied here")
        return f"container:{self.ids[target]}"

    def _update_in_place(self, registration: Registration) -> None:
        inputs = reveal(registration.inputs)
        update: dict[str, Any] = {"RestartPolicy": {"Name": inputs.get("restart", "no")}}
        if "cpuShares" in inputs:
            update["CpuShares"] = int(inputs["cpuShares"])
        if "memory" in inputs:
            update["Memory"] = int(inputs["memory"]) * 1024 * 1024
        if inputs.get("memorySwap"):
            swap = int(inputs["memorySwap"])
            update["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
        self._call("POST", f"/containers/{self.ids[registration.name]}/update", json=update)


def _host_config(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig the provider sends for `inputs`, ports and networks aside."""
    caps = inputs.get("capabilities") or {}
    host: dict[str, Any] = {
        "RestartPolicy": {"Name": inputs.get("restart", "no")},
        "SecurityOpt": inputs.get("securityOpts") or None,
        "LogConfig": {"Type": inputs.get("logDriver", "json-file"), "Config": inputs.get("logOpts") or {}},
        # What the docker Go client does to both lists before the request leaves the provider.
        "CapAdd": _normalized_capabilities(caps.get("adds")),
        "CapDrop": _normalized_capabilities(caps.get("drops")),
        "Binds": [_bind(name, v) for v in inputs.get("volumes") or []] or None,
        "ReadonlyRootfs": bool(inputs.get("readOnly", False)),
        "Tmpfs": inputs.get("tmpfs") or None,
        "Ulimits": [
            {"Name": u["name"], "Soft": int(u["soft"]), "Hard": int(u["hard"])} for u in inputs.get("ulimits") or []
        ]
        or None,
        "Sysctls": inputs.get("sysctls") or None,
    }
    if "cpuShares" in inputs:
        host["CpuShares"] = int(inputs["cpuShares"])
    if "memory" in inputs:
        host["Memory"] = int(inputs["memory"]) * 1024 * 1024
    if "memorySwap" in inputs:
        swap = int(inputs["memorySwap"])
        host["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
    return host


def _tunnel_configs(run: OfflineRun) -> dict[str, Any]:
    """Tunnel id → remotely managed config, from the program's Cloudflare resources."""
    return {reveal(r.inputs)["tunnelId"]: reveal(r.inputs)["config"] for r in run.of_type(TUNNEL_CONFIG)}


def _token_files(run: OfflineRun) -> set[str]:
    """Paths connectors read their tunnel token from (TUNNEL_TOKEN_FILE), wherever the file is uploaded."""
    paths = set()
    for registration in run.of_type(CONTAINER):
        for env in reveal(registration.inputs).get("envs") or []:
            if env.startswith("TUNNEL_TOKEN_FILE="):
                paths.add(env.split("=", 1)[1])
    return paths


def _normalized_capabilities(names: list[str] | None) -> list[str] | None:
    """client/container_create.go normalizeCapabilities: upper case, `CAP_` but `ALL`, unique, sorted."""
    if not names:
        return None
    return sorted({n.upper() if n.upper() == "ALL" else "CAP_" + n.upper().removeprefix("CAP_") for n in names})


def _go_duration(nanoseconds: int) -> str:
    """Go's Duration.String() for whole seconds, as the provider stores healthcheck durations."""
    seconds, rest = divmod(int(nanoseconds), 10**9)
    if rest:
        raise ApplyError(f"sub-second duration {nanoseconds} ns has no mapping here")
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _comparable(key: str, value: Any) -> Any:
    """A value as the provider's schema compares it: sets as sets, numbers as ints, empty as None."""
    if key == "capabilities":
        return {k: frozenset(v) for k, v in (value or {}).items() if v} or None
    if key == "ulimits":
        return frozenset((u["name"], int(u["soft"]), int(u["hard"])) for u in value or []) or None
    if key == "securityOpts":
        return frozenset(value or []) or None
    if key == "healthcheck" and value:
        return {k: int(v) if k == "retries" else v for k, v in value.items()}
    if isinstance(value, float):
        return int(value)
    return value or None


def _only(name: str, inputs: dict[str, Any], known: set[str] | frozenset[str]) -> None:
    unknown = set(inputs) - set(known)
    if unknown:
        raise ApplyError(f"{name}: no mapping for input(s) {sorted(unknown)}")


def _bind(name: str, volume: dict[str, Any]) -> str:
    _only(name, volume, {"volumeName", "hostPath", "containerPath", "readOnly"})
    source = volume.get("volumeName") or volume.get("hostPath")
    if not source:
        raise ApplyError(f"{name}: volume without a source: {volume}")
    return f"{source}:{volume['containerPath']}" + (":ro" if volume.get("readOnly") else "")


def _endpoint(network: dict[str, Any]) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"Aliases": network.get("aliases") or []}
    if network.get("ipv4Address"):
        endpoint["IPAMConfig"] = {"IPv4Address": network["ipv4Address"]}
    return endpoint


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if not check:
        return None
    return {
        "Test": check["tests"],
        "Interval": _duration_ns(check.get("interval", "0s")),
        "Timeout": _duration_ns(check.get("timeout", "0s")),
        "StartPeriod": _duration_ns(check.get("startPeriod", "0s")),
        "Retries": int(check.get("retries", 0)),
    }


def _upload_tar(name: str, uploads: list[dict[str, Any]]) -> bytes:
    """One tar of the uploads, each at its absolute path with its mode, as the provider builds it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in uploads:
            _only(name, upload, {"file", "content", "contentBase64", "permissions", "executable", "source"})
            if "content" in upload:
                data = str(upload["content"]).encode()
            elif "contentBase64" in upload:
                data = base64.b64decode(upload["contentBase64"])
            else:
                raise ApplyError(f"{name}: upload {upload.get('file')} has no content")
            mode = int(upload.get("permissions") or ("0744" if upload.get("executable") else "0644"), 8)
            info = tarfile.TarInfo(upload["file"])
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _in_dependency_order(resources: list[Registration]) -> list[Registration]:
    """Registration order, each resource after what it depends on (as the engine schedules creates)."""
    by_name = {r.name: r for r in resources}
    ordered: list[Registration] = []
    seen: set[str] = set()

    def visit(registration: Registration) -> None:
        if registration.name in seen:
            return
        seen.add(registration.name)
        for dependency in registration.options.get("dependsOn") or []:
            if dependency in by_name:
                visit(by_name[dependency])
        ordered.append(registration)

    for registration in resources:
        visit(registration)
    return ordered
