"""The Docker emulation for the live tests, in one place.

`python -m tests.live.sandbox [pytest args]` (what `make pytest` runs) re-executes itself inside a new
network and mount namespace, then runs pytest there (`--script FILE` runs a benchmark instead).
Inside:
- the network holds only a loopback interface: the exact rendered nginx.conf can bind its real
  ports, test traffic cannot leave the machine, and a process that tries the internet fails;
- /etc/resolv.conf (bind-mounted, private to the namespace) points at 127.0.0.11, Docker's
  embedded DNS address, where `tests/live/docker_dns.py` answers container aliases with the
  loopback addresses the emulated containers listen on.
What else Docker provides is emulated by the live fixtures, and only there: container files are
the render's `containers/<name>/` directories (mounts), and a container's listen address is its
emulated loopback address (addresses).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

SANDBOX_ENV = "LLMSTACK_TEST_SANDBOX"
DOCKER_DNS = "127.0.0.11"


def in_sandbox() -> bool:
    """Whether this process runs inside the test namespaces with only a loopback interface."""
    if os.environ.get(SANDBOX_ENV) != "1":
        return False
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


def _enter() -> None:
    namespaces = ["unshare", "--net", "--mount"]
    if os.geteuid() != 0:
        namespaces.append("--map-root-user")
    env = {**os.environ, SANDBOX_ENV: "1"}
    os.execvpe(namespaces[0], [*namespaces, sys.executable, "-m", "tests.live.sandbox", *sys.argv[1:]], env)  # noqa: S606


def _prepare() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with tempfile.NamedTemporaryFile("w", prefix="resolv-", suffix=".conf", delete=False) as resolv:
        resolv.write(f"nameserver {DOCKER_DNS}\noptions timeout:1 attempts:1\n")
    subprocess.run(["mount", "--bind", resolv.name, "/etc/resolv.conf"], check=True)


def main() -> None:
    """Enter the sandbox, prepare it, run pytest (or `--script FILE`) with the given arguments."""
    if os.environ.get(SANDBOX_ENV) != "1":
        _enter()
    _prepare()
    arguments = sys.argv[1:]
    if arguments[:1] == ["--script"]:
        os.execv(sys.executable, [sys.executable, *arguments[1:]])  # noqa: S606
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *arguments])  # noqa: S606


if __name__ == "__main__":
    main()
