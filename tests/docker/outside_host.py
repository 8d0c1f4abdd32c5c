"""A host "outside the stack" that the egress tests try to reach: a network namespace this test makes.

    root netns  llmout0 10.213.250.1/30 ── veth ── eth0 10.213.250.2/30  netns llmstack-outside
                                                   (a TCP listener that logs each peer it accepts)

It stands in for any Internet host: it answers what reaches it from the host's own address (which
is what a masqueraded container connection looks like) and, like an Internet host, has no route
back to the private subnets of Docker's bridges. Nothing leaves the machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "llmstack-outside"
HOST_SIDE = "llmout0"
HOST_ADDRESS = "10.213.250.1"
OUTSIDE_ADDRESS = "10.213.250.2"
PORT = 8080
CONNECT_SECONDS = 4.0
"""Long enough for a SYN and its answer between namespaces; an unanswered SYN waits this long."""

LISTENER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
while True:
    peer, address = server.accept()
    print(address[0], flush=True)
    peer.close()
"""

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except OSError as error:
    print(type(error).__name__, error)
else:
    print("connected")
"""


@dataclass(frozen=True)
class OutsideHost:
    """The listener's address and the peers it accepted so far."""

    address: str
    port: int
    log: Path

    def peers(self) -> list[str]:
        """Source addresses of the connections the listener accepted, oldest first."""
        return [line for line in self.log.read_text().splitlines() if line != "listening"]

    def connect_from(self, pid: int) -> str:
        """Try a TCP connection from the network namespace of process `pid`: "connected" or the error."""
        result = subprocess.run(
            [
                "nsenter",
                f"--net=/proc/{pid}/ns/net",
                sys.executable,
                "-c",
                CONNECT,
                self.address,
                str(self.port),
                str(CONNECT_SECONDS),
            ],
            capture_output=True,
            text=True,
            timeout=CONNECT_SECONDS + 10,
            check=True,
        )
        return result.stdout.strip()


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@contextmanager
def outside_host(directory: Path) -> Iterator[OutsideHost]:
    """Create the namespace, its link and its listener; remove all of it afterwards."""
    _ip("netns", "delete", NAMESPACE, check=False)  # leftovers of an interrupted session
    _ip("netns", "add", NAMESPACE)
    listener = None
    try:
        _ip("link", "add", HOST_SIDE, "type", "veth", "peer", "name", "eth0", "netns", NAMESPACE)
        _ip("addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_SIDE)
        _ip("link", "set", HOST_SIDE, "up")
        _ip("-n", NAMESPACE, "addr", "add", f"{OUTSIDE_ADDRESS}/30", "dev", "eth0")
        _ip("-n", NAMESPACE, "link", "set", "eth0", "up")
        _ip("-n", NAMESPACE, "link", "set", "lo", "up")
        log = directory / "outside-peers.log"
        with log.open("w") as out:
            listener = subprocess.Popen(
                ["ip", "netns", "exec", NAMESPACE, sys.executable, "-c", LISTENER, OUTSIDE_ADDRESS, str(PORT)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while "listening" not in log.read_text():
            if time.monotonic() > deadline or listener.poll() is not None:
                raise RuntimeError(f"the outside host's listener did not start: {log.read_text()}")
            time.sleep(0.05)
        yield OutsideHost(OUTSIDE_ADDRESS, PORT, log)
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        # Deleting the namespace deletes its end of the veth, and with it ours.
        _ip("netns", "delete", NAMESPACE, check=False)
