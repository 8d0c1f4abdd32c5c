"""Stand-in images for the docker tier, built offline and tagged as the rendered stack references them.

There is no registry here, and Ollama/cloudflared cannot run: every image the stack pulls is replaced
by a stand-in built on this machine and tagged with the exact reference the render asks for, so the
render's `RemoteImage`s resolve locally. Each carries the label `llmstack.standin=<what it stands for>`.
- base: `debootstrap --variant=minbase bookworm` (+ python3, python3-venv, nginx), `docker import`ed;
- nginx: Debian's nginx 1.22 with the official image's conventions (user nginx uid 101, workers run as
  it, `nginx -g 'daemon off;'`, config in /etc/nginx, logs to stdout/stderr, bash present);
- LiteLLM: the pinned `litellm[proxy]` and `prisma` (as in the official image) installed offline
  from wheels verified against requirements-dev.txt's hashes, `python3` on PATH, ENTRYPOINT
  `litellm` (as the official image's entrypoint execs it);
- Ollama: /bin/ollama answering `serve`, `list`, `pull` (standins/ollama_standin.py over tests/live/ollama_standin.py),
  root as the real image (no USER line); models where OLLAMA_MODELS says;
- cloudflared: the forwarder stand-in as the real image's user 65532:65532;
- Prometheus, Alertmanager, nginx exporter: Debian's binaries (the releases the live tier runs) with
  the official images' conventions (entrypoint, user nobody, data directory, busybox `wget` for the
  healthcheck, here standins/wget_standin.py).
Images are rebuilt only when the label `llmstack.standin.inputs` (a hash of the build inputs) differs.

`python -m tests.docker.images --stack dev` builds what a stack needs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parent.parent
CACHE = Path(os.environ.get("LLMSTACK_DOCKER_CACHE", "/var/cache/llmstack-docker"))
DOCKER = shutil.which("docker", path="/usr/bin") or "docker"
"""The CLI that matches Debian's daemon (a newer CLI elsewhere on PATH wants buildx)."""
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "nginx", "bash")
BASE_TAG = f"llmstack-standin-base:{SUITE}"
LITELLM_REQUIREMENTS = ("litellm[proxy]==1.108.7", "prisma==0.11.0", "prometheus_client==0.20.0")
"""What the official image installs that LiteLLM's proxy uses (prisma: its error handlers import it;
prometheus_client: its `prometheus` callback, on with monitoring)."""
INPUTS_LABEL = "llmstack.standin.inputs"
LITELLM_FALLBACK_TAG = "ghcr.io/berriai/litellm:main-v1.108.7"

NGINX_DOCKERFILE = """\
FROM {base}
RUN groupadd --system --gid 101 nginx \\
 && useradd --system --uid 101 --gid nginx --no-create-home --home-dir /nonexistent --shell /bin/false nginx \\
 && rm -f /etc/nginx/sites-enabled/default \\
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx /usr/local/sbin/nginx
RUN chmod 0755 /usr/local/sbin/nginx
LABEL llmstack.standin="nginx (official image conventions) on Debian's nginx 1.22"
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
"""

LITELLM_DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/litellm \\
 && /opt/litellm/bin/pip install --quiet --disable-pip-version-check --no-index --find-links /tmp/wheels \\
      {requirements} \\
 && rm -rf /tmp/wheels /root/.cache
ENV PATH=/opt/litellm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /app
LABEL llmstack.standin="LiteLLM proxy {requirements} from PyPI wheels"
EXPOSE 4000
ENTRYPOINT ["litellm"]
CMD ["--port", "4000"]
"""

OLLAMA_DOCKERFILE = """\
FROM {base}
COPY tests /opt/standin/tests
COPY ollama.py /bin/ollama
RUN chmod 0755 /bin/ollama
ENV OLLAMA_HOST=0.0.0.0:11434
LABEL llmstack.standin="Ollama API and CLI stand-in (no models, fixed replies)"
EXPOSE 11434
ENTRYPOINT ["/bin/ollama"]
CMD ["serve"]
"""

PROMETHEUS_DOCKERFILE = """\
FROM {base}
COPY binary /bin/{binary}
COPY wget /bin/wget
RUN chmod 0755 /bin/{binary} /bin/wget && mkdir -p {data} && chown nobody:nogroup {data}
USER nobody
WORKDIR {data}
LABEL llmstack.standin="{what} (official image conventions) on Debian's binary"
ENTRYPOINT ["/bin/{binary}"]
"""
MONITORING_BINARIES = {
    # role: (Debian binary, the official image's binary name, its data directory, what it stands for)
    "prometheus": ("/usr/bin/prometheus", "prometheus", "/prometheus", "Prometheus"),
    "alertmanager": ("/usr/bin/prometheus-alertmanager", "alertmanager", "/alertmanager", "Alertmanager"),
    "nginx-exporter": ("/usr/bin/prometheus-nginx-exporter", "nginx-prometheus-exporter", "/exporter", "exporter"),
}

CLOUDFLARED_DOCKERFILE = """\
FROM {python}
COPY tests /opt/standin/tests
COPY cloudflared.py /usr/local/bin/cloudflared
RUN chmod 0755 /usr/local/bin/cloudflared
LABEL llmstack.standin="cloudflared + Cloudflare edge stand-in (tests/live/cloudflared_standin.py)"
# The real image's user (cloudflared's Dockerfile: distroless nonroot, USER 65532:65532).
USER 65532:65532
ENTRYPOINT ["cloudflared"]
CMD ["--help"]
"""

Log = Callable[[str], None]


def docker(*args: str, input_: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run the docker CLI."""
    return subprocess.run([DOCKER, *args], input=input_, capture_output=True, check=check)


def image_inputs_label(tag: str) -> str | None:
    """The inputs hash an image was built from, None when the tag is not there."""
    result = docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag, check=False)
    if result.returncode != 0:
        return None
    labels = json.loads(result.stdout or b"null") or {}
    value = labels.get(INPUTS_LABEL)
    return str(value) if value is not None else ""


def _hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def ensure_base(log: Log) -> str:
    """The debootstrapped base image; returns its inputs hash."""
    inputs = _hash(SUITE, *BASE_PACKAGES)
    if image_inputs_label(BASE_TAG) == inputs:
        return inputs
    rootfs = CACHE / f"rootfs-{inputs}"
    if not (rootfs / ".complete").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        log(f"images: debootstrap {SUITE} into {rootfs} (~90 s)")
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs)],
            check=True,
            capture_output=True,
        )
        (rootfs / ".complete").touch()
    log(f"images: docker import {BASE_TAG}")
    with subprocess.Popen(
        ["tar", "-C", str(rootfs), "--exclude=./.complete", "-c", "."], stdout=subprocess.PIPE
    ) as tar:
        subprocess.run(
            [DOCKER, "import", "--change", f"LABEL {INPUTS_LABEL}={inputs}", "-", BASE_TAG],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
    if tar.returncode != 0:
        raise RuntimeError("tar of the base rootfs failed")
    shutil.rmtree(rootfs)
    return inputs


def litellm_wheels(log: Log) -> Path:
    """Every wheel of requirements-dev.txt, each checked against its hash there (`--require-hashes`).

    Returns the wheel directory. The image resolves
    `litellm[proxy]` from this directory only (`--no-index`), with its own Python: bookworm's 3.11.2
    takes dependencies a newer host Python's markers leave out (redis needs async-timeout < 3.11.3).
    """
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    log("images: pip download (hash-checked) requirements-dev.txt")
    lock = PROJECT_DIR / "requirements-dev.txt"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--quiet",
            "download",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "-d",
            str(wheels),
            "-r",
            str(lock),
        ],
        check=True,
        capture_output=True,
    )
    return wheels


def _build(tag: str, dockerfile: str, files: dict[str, Path | str | Callable[[], Path]], inputs: str, log: Log) -> None:
    if image_inputs_label(tag) == inputs:
        log(f"images: {tag} cached ({inputs})")
        return
    log(f"images: building {tag}")
    resolved = {name: source() if callable(source) else source for name, source in files.items()}
    with tempfile.TemporaryDirectory(prefix="llmstack-standin-") as context:
        root = Path(context)
        (root / "Dockerfile").write_text(dockerfile)
        for name, source in resolved.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, str):
                target.write_text(source)
            elif source.is_dir():
                shutil.copytree(source, target, copy_function=_link_or_copy)
            else:
                shutil.copy2(source, target)
        started = time.monotonic()
        result = subprocess.run(
            [DOCKER, "build", "--quiet", "--label", f"{INPUTS_LABEL}={inputs}", "-t", tag, str(root)],
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"docker build {tag} failed:\n{result.stdout.decode()}\n{result.stderr.decode()}")
        log(f"images: built {tag} in {time.monotonic() - started:.0f} s")
    # The stand-in this build replaced, now untagged.
    docker("image", "prune", "--force", "--filter", f"label={INPUTS_LABEL}", check=False)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def ensure_images(references: dict[str, str], log: Log = print) -> None:
    """Build the stand-ins the render references: role (nginx, litellm, ollama) → image reference."""
    base = ensure_base(log)
    standins = HERE / "standins"
    for role, tag in references.items():
        if role == "nginx":
            dockerfile = NGINX_DOCKERFILE.format(base=BASE_TAG)
            files: dict[str, Path | str | Callable[[], Path]] = {"nginx": standins / "nginx_standin"}
            inputs = _hash(base, dockerfile, (standins / "nginx_standin").read_bytes())
        elif role == "litellm":
            requirements = " ".join(f"'{requirement}'" for requirement in LITELLM_REQUIREMENTS)
            dockerfile = LITELLM_DOCKERFILE.format(base=BASE_TAG, requirements=requirements)
            files = {"wheels": lambda: litellm_wheels(log)}  # downloaded only when the image is built
            inputs = _hash(base, dockerfile, (PROJECT_DIR / "requirements-dev.txt").read_bytes())
        elif role == "ollama":
            dockerfile = OLLAMA_DOCKERFILE.format(base=BASE_TAG)
            standin = PROJECT_DIR / "tests" / "live" / "ollama_standin.py"
            files = {
                "ollama.py": standins / "ollama_standin.py",
                "tests/__init__.py": "",
                "tests/live/__init__.py": "",
                "tests/live/ollama_standin.py": standin,
            }
            inputs = _hash(base, dockerfile, (standins / "ollama_standin.py").read_bytes(), standin.read_bytes())
        elif role in MONITORING_BINARIES:
            source, name, data, what = MONITORING_BINARIES[role]
            dockerfile = PROMETHEUS_DOCKERFILE.format(base=BASE_TAG, binary=name, data=data, what=what)
            files = {"binary": Path(source), "wget": standins / "wget_standin.py"}
            inputs = _hash(base, dockerfile, Path(source).read_bytes(), (standins / "wget_standin.py").read_bytes())
        elif role == "cloudflared":
            # On the LiteLLM stand-in: the forwarder needs httpx, which that image has.
            python = references.get("litellm", LITELLM_FALLBACK_TAG)
            dockerfile = CLOUDFLARED_DOCKERFILE.format(python=python)
            forwarder = PROJECT_DIR / "tests" / "live" / "cloudflared_standin.py"
            files = {
                "cloudflared.py": standins / "cloudflared_standin.py",
                "tests/__init__.py": "",
                "tests/live/__init__.py": "",
                "tests/live/cloudflared_standin.py": forwarder,
            }
            inputs = _hash(
                str(image_inputs_label(python)),
                dockerfile,
                (standins / "cloudflared_standin.py").read_bytes(),
                forwarder.read_bytes(),
            )
        else:
            raise ValueError(f"no stand-in image for {role} ({tag})")
        _build(tag, dockerfile, files, inputs, log)


def references_of(resources: list[tuple[str, str]]) -> dict[str, str]:
    """Role → reference, from the render's RemoteImage names (resource name, image reference)."""
    roles = {
        "ollama-image": "ollama",
        "gateway-image": "litellm",
        "edge-image": "nginx",
        "tunnel-image": "cloudflared",
        "tunnel-watch-image": "nginx",  # the tunnel watch runs the stack's nginx image
        "monitoring-prometheus-image": "prometheus",
        "monitoring-alertmanager-image": "alertmanager",
        "monitoring-nginx-exporter-image": "nginx-exporter",
        "monitoring-probe-image": "litellm",  # the probe runs in LiteLLM's image
    }
    return {roles.get(name, name): reference for name, reference in resources}


def main(argv: list[str] | None = None) -> int:
    """Build the stand-ins a stack's render references."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args(argv)
    from components.program import run
    from offline.engine import run_offline
    from offline.render import read_stack_file

    config, secret = read_stack_file(args.stack, PROJECT_DIR, notify=lambda _: None)
    result = run_offline(run, stack=args.stack, config=config, secret_keys=secret)
    images = [(r.name, r.inputs["name"]) for r in result.of_type("docker:index/remoteImage:RemoteImage")]
    ensure_images(references_of(images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
