"""What an edge container's uploaded nginx configuration says about TLS and client allow-lists."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping

from policy.containers import CONTAINER
from policy.props import Props, entries, field

ACCEPTED_PROTOCOL_SETS = (frozenset({"TLSv1.3"}), frozenset({"TLSv1.2", "TLSv1.3"}))
"""Mozilla's "modern" and "intermediate" profiles."""

_CONF_DIR = "/etc/nginx/"
_COMMENT = re.compile(r"#[^\n]*")
# A directive starts a line or follows `;`, `{` or `}`; its arguments run to the next `;`.
_DIRECTIVE = re.compile(r"(?:^|(?<=[;{}]))[ \t]*(ssl_protocols|allow|deny)\s+([^;{}]*);", re.MULTILINE)


def config_text(props: Props) -> str | None:
    """All nginx configuration files a container receives, comments removed; None when it gets none."""
    files = [
        upload_content(upload)
        for upload in entries(field(props, "uploads"))
        if isinstance(upload, Mapping) and _is_nginx_conf(str(upload.get("file") or ""))
    ]
    if not files:
        return None
    return "\n".join(_COMMENT.sub("", content) for content in files)


def upload_content(upload: Mapping[str, object]) -> str:
    """The text of one `uploads` entry (`content`, or `contentBase64` decoded)."""
    content = upload.get("content")
    if isinstance(content, str):
        return content
    encoded = upload.get("contentBase64")
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
    return ""


def directives(conf: str, name: str) -> list[str]:
    """Arguments of every `name …;` directive, whitespace-normalised."""
    return [" ".join(args.split()) for found, args in _DIRECTIVE.findall(conf) if found == name]


def tls_protocols(resource_type: str, props: Props) -> list[str]:
    """An edge offers TLS 1.3, or TLS 1.2 and 1.3, and nothing older."""
    if resource_type != CONTAINER:
        return []
    conf = config_text(props)
    if conf is None:
        return []
    settings = directives(conf, "ssl_protocols")
    if not settings:
        return ["nginx.conf has no ssl_protocols: nginx before 1.23.4 defaults to TLSv1 and TLSv1.1 too"]
    return [
        f"ssl_protocols {setting}: allow only TLSv1.3, or TLSv1.2 TLSv1.3"
        for setting in settings
        if frozenset(setting.split()) not in ACCEPTED_PROTOCOL_SETS
    ]


def allow_list_problems(conf: str | None) -> list[str]:
    """Why `conf` does not restrict clients to named networks ([] when it does).

    An allow-list is at least one `allow <network>;` that is not everyone, followed by
    `deny all;`, and no `allow all;`.
    """
    if conf is None:
        return ["it receives no nginx configuration that could restrict clients"]
    allowed = directives(conf, "allow")
    problems = []
    if not allowed:
        problems.append("nginx.conf has no `allow <cidr>;`")
    problems += [f"`allow {network};` admits every client" for network in allowed if _is_everyone(network)]
    if "all" not in directives(conf, "deny"):
        problems.append("nginx.conf has no `deny all;`")
    return problems


def _is_nginx_conf(path: str) -> bool:
    return path.endswith("/nginx.conf") or (path.startswith(_CONF_DIR) and path.endswith(".conf"))


def _is_everyone(network: str) -> bool:
    if network == "all":
        return True
    try:
        return ipaddress.ip_network(network, strict=False).prefixlen == 0
    except ValueError:
        return False
