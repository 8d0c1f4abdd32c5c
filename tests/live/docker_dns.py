"""Stand-in for Docker's embedded DNS at 127.0.0.11 (part of the Docker emulation, see tests/live/sandbox.py).

Answers A queries for the container aliases it was told about, NOERROR with no answer for other
record types of known names (Docker networks here are IPv4-only), NXDOMAIN for everything else.
"""

from __future__ import annotations

import socket
import struct
import threading

_FLAGS_ANSWER = 0x8180
_FLAGS_NXDOMAIN = 0x8183
_TYPE_A = 1


class DockerDns:
    """A tiny authoritative DNS server for container aliases, served from a thread."""

    def __init__(self, address: str = "127.0.0.11", port: int = 53) -> None:
        self.names: dict[str, str] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((address, port))
        self._socket.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="docker-dns", daemon=True)
        self._thread.start()

    def set(self, name: str, address: str) -> None:
        """Point `name` (a container alias) at `address`."""
        self.names[name.lower()] = address

    def close(self) -> None:
        """Stop serving."""
        self._stopped.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                query, client = self._socket.recvfrom(512)
            except TimeoutError:
                continue
            self._socket.sendto(self.answer(query), client)

    def answer(self, query: bytes) -> bytes:
        """The response packet for one query packet."""
        (query_id,) = struct.unpack("!H", query[:2])
        labels, offset = [], 12
        while query[offset]:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode().lower())
            offset += 1 + length
        qtype, _qclass = struct.unpack("!HH", query[offset + 1 : offset + 5])
        question = query[12 : offset + 5]
        address = self.names.get(".".join(labels))
        if address is None:
            return struct.pack("!HHHHHH", query_id, _FLAGS_NXDOMAIN, 1, 0, 0, 0) + question
        if qtype != _TYPE_A:
            return struct.pack("!HHHHHH", query_id, _FLAGS_ANSWER, 1, 0, 0, 0) + question
        record = struct.pack("!HHHIH", 0xC00C, _TYPE_A, 1, 0, 4) + socket.inet_aton(address)
        return struct.pack("!HHHHHH", query_id, _FLAGS_ANSWER, 1, 1, 0, 0) + question + record
