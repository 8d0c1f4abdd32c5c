"""What an edge container's uploaded nginx configuration says about TLS and client allow-lists."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from policy.containers import CONTAINER, role
from policy.nginx_parse import Directive, ParseError, parse
from policy.props import Props, UnknownInputError, entries, field, mapping, value

ACCEPTED_PROTOCOL_SETS = (frozenset({"TLSv1.3"}), frozenset({"TLSv1.2", "TLSv1.3"}))
"""Mozilla's "modern" and "intermediate" profiles."""

PROXYING = frozenset({"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"})
"""Directives that hand a request to something behind nginx."""

_CONF_DIR = "/etc/nginx/"
CONF_LABEL = "llmstack.nginx.conf"
"""The label an nginx container with a read-only root carries its rendered nginx.conf in (components/edge.py):
its files reach it through a volume, which a per-resource rule cannot open."""


@dataclass(frozen=True)
class ConfFiles:
    """The nginx configuration files a container receives, as far as they are known."""

    files: list[ConfFile]
    """The files whose path and content are known."""
    pending: UnknownInputError | None
    """Why more could exist (an upload unknown during preview); None when the list is complete."""

    def judged(self, problems: list[str]) -> list[str]:
        """`problems` found in the known files; with none, the check is deferred when files may be missing."""
        if self.pending is not None and not problems:
            raise self.pending
        return problems


@dataclass(frozen=True)
class ConfFile:
    """One nginx configuration file a container receives."""

    path: str
    """Where it lands in the container."""
    directives: list[Directive] | None
    """Its parsed content; None when it does not parse."""


def config_files(props: Props) -> ConfFiles:
    """Every nginx configuration file among a container's uploads.

    Each upload is read on its own: only a configuration file's content is needed, so an unknown
    key or certificate beside it (a first preview) does not hide it.
    """
    files: list[ConfFile] = []
    pending: UnknownInputError | None = None
    for label in entries(field(props, "labels")):
        try:
            entry = mapping(label)
            if value(entry.get("label")) == CONF_LABEL:
                content = value(entry.get("value"))
                files.append(ConfFile(f"label {CONF_LABEL}", _parsed(content if isinstance(content, str) else "")))
        except UnknownInputError as error:
            pending = pending or error
    for upload in entries(field(props, "uploads")):
        try:
            entry = mapping(upload)
            path = value(entry.get("file"))
            if isinstance(path, str) and _is_nginx_conf(path):
                files.append(ConfFile(path, _parsed(upload_content(entry))))
        except UnknownInputError as error:
            pending = pending or error
    return ConfFiles(files, pending)


def _parsed(text: str) -> list[Directive] | None:
    try:
        return parse(text)
    except ParseError:
        return None


def upload_content(upload: Mapping[str, object]) -> str:
    """The text of one `uploads` entry (`content`, or `contentBase64` decoded)."""
    content = value(upload.get("content"))
    if isinstance(content, str):
        return content
    encoded = value(upload.get("contentBase64"))
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
    return ""


def walk(directives: list[Directive]) -> Iterator[Directive]:
    """Every directive, blocks and what they contain."""
    for directive in directives:
        yield directive
        if directive.block is not None:
            yield from walk(directive.block)


def tls_protocols(resource_type: str, props: Props) -> list[str]:
    """An edge offers TLS 1.3, or TLS 1.2 and 1.3, and nothing older."""
    if resource_type != CONTAINER:
        return []
    known = config_files(props)
    if not known.files and known.pending is not None:
        raise known.pending
    return known.judged(_tls_problems(props, known.files))


def _tls_problems(props: Props, files: list[ConfFile]) -> list[str]:
    if not files:
        if role(props) == "nginx":
            return ["nginx receives no nginx.conf upload: its TLS settings (from a volume or mount) cannot be checked"]
        return []
    problems = [f"{f.path} does not parse: its TLS settings cannot be checked" for f in files if f.directives is None]
    parsed = [directive for f in files if f.directives is not None for directive in walk(f.directives)]
    settings = [" ".join(d.args) for d in parsed if d.name == "ssl_protocols"]
    # A fragment alone (another .conf an nginx.conf includes, e.g. the pool egress's hosts file) is
    # judged for what it sets; the main file must set the protocols.
    if not settings and not problems and any(_is_main(f.path) for f in files):
        return ["nginx.conf has no ssl_protocols: nginx before 1.23.4 defaults to TLSv1 and TLSv1.1 too"]
    return problems + [
        f"ssl_protocols {setting}: allow only TLSv1.3, or TLSv1.2 TLSv1.3"
        for setting in settings
        if frozenset(setting.split()) not in ACCEPTED_PROTOCOL_SETS
    ]


def allow_list_problems(files: list[ConfFile]) -> list[str]:
    """Why the configuration does not restrict who reaches what nginx proxies ([] when it does).

    Every location that proxies must admit named networks only: its access rules (its own, else
    the nearest enclosing block's, as nginx inherits them) allow at least one network that is not
    everyone, and reach `deny all;` before anything admits every client.
    """
    if not files:
        return ["it receives no nginx configuration that could restrict clients"]
    problems = [f"{f.path} does not parse" for f in files if f.directives is None]
    proxying = [found for f in files if f.directives is not None for found in _proxying_locations(f.directives, [])]
    if not proxying and not problems:
        problems.append("nginx.conf proxies nothing (no proxy_pass), so no allow-list guards the service")
    for where, rules in proxying:
        reason = _rules_problem(rules)
        if reason:
            problems.append(f"location {where} {reason}")
    return problems


def _proxying_locations(
    directives: list[Directive], inherited: list[tuple[str, str]], where: str = "(server)"
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    own = [(d.name, " ".join(d.args)) for d in directives if d.name in ("allow", "deny")]
    rules = own or inherited
    if any(d.name in PROXYING for d in directives):
        yield where, rules
    for d in directives:
        if d.block is not None:
            inner = " ".join(d.args) if d.name == "location" else where
            yield from _proxying_locations(d.block, rules, inner)


def _rules_problem(rules: list[tuple[str, str]]) -> str | None:
    allowed: list[str] = []
    for action, network in rules:
        if action == "allow" and _is_everyone(network):
            return f"has `allow {network};`, which admits every client"
        if action == "deny" and network == "all":
            return None if allowed else "denies everyone before allowing a network (`allow <cidr>;` first)"
        if action == "allow":
            allowed.append(network)
    if not rules:
        return "proxies with no `allow <cidr>; … deny all;`"
    return "has no `deny all;` after its allow rules"


def _is_main(path: str) -> bool:
    """Whether a judged file is a whole nginx configuration (the label, an nginx.conf), not a fragment."""
    return path == f"label {CONF_LABEL}" or path.endswith("/nginx.conf")


def _is_nginx_conf(path: str) -> bool:
    return path.endswith("/nginx.conf") or (path.startswith(_CONF_DIR) and path.endswith(".conf"))


def _is_everyone(network: str) -> bool:
    if network == "all":
        return True
    try:
        return ipaddress.ip_network(network, strict=False).prefixlen == 0
    except ValueError:
        return False
