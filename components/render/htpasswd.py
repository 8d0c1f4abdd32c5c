"""htpasswd lines for nginx basic auth, hashed with apr1 (Apache's MD5-crypt).

Why apr1: nginx re-hashes the password on every request. bcrypt at pulumi-random's cost 10 adds
~70 ms per request; apr1 is 1000 MD5 rounds, microseconds. The password is 32 random characters,
so the hash's speed gives an attacker nothing to brute-force. Deterministic for a given salt, so
with a salt kept in state the hash (and the nginx container) stays the same across `pulumi up`.
"""

from __future__ import annotations

import hashlib

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAGIC = b"$apr1$"


def apr1(password: str, salt: str) -> str:
    """The `$apr1$salt$hash` of `password` (salt: up to 8 characters of ./0-9A-Za-z)."""
    if not salt or any(c not in _ITOA64 for c in salt[:8]):
        raise ValueError("apr1 salt must be 1-8 characters of ./0-9A-Za-z")
    secret, salt_bytes = password.encode(), salt[:8].encode()
    alternate = _md5(secret + salt_bytes + secret)
    context = secret + _MAGIC + salt_bytes
    for remaining in range(len(secret), 0, -16):
        context += alternate[: min(16, remaining)]
    length = len(secret)
    while length:
        context += b"\x00" if length & 1 else secret[:1]
        length >>= 1
    digest = _md5(context)
    for round_ in range(1000):
        step = secret if round_ & 1 else digest
        if round_ % 3:
            step += salt_bytes
        if round_ % 7:
            step += secret
        step += digest if round_ & 1 else secret
        digest = _md5(step)
    return f"$apr1${salt[:8]}${_encode(digest)}"


def htpasswd_line(user: str, password: str, salt: str) -> str:
    """One htpasswd file line."""
    if ":" in user or "\n" in user:
        raise ValueError(f"basic-auth user {user!r} may not contain ':' or a newline")
    return f"{user}:{apr1(password, salt)}\n"


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _encode(digest: bytes) -> str:
    """MD5-crypt's own base64 ordering of the 16 digest bytes."""
    encoded = ""
    for first, second, third in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        encoded += _to64(digest[first] << 16 | digest[second] << 8 | digest[third], 4)
    return encoded + _to64(digest[11], 2)


def _to64(value: int, count: int) -> str:
    chars = ""
    for _ in range(count):
        chars += _ITOA64[value & 0x3F]
        value >>= 6
    return chars
