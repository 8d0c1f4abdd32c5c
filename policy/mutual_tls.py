"""A published nginx that forwards to Ollama requires a client certificate (the GPU pool's terminator)."""

from __future__ import annotations

from policy.containers import CONTAINER
from policy.exposure import published
from policy.nginx_conf import PROXYING, ConfFile, config_files, walk
from policy.nginx_parse import Directive
from policy.props import Props

OLLAMA_PORT = "11434"
"""Ollama's port: a configuration naming it anywhere (proxy_pass, set, upstream) reaches Ollama."""


def ollama_behind_mutual_tls(resource_type: str, props: Props) -> list[str]:
    """Every published server of an nginx that reaches Ollama demands a certificate of a named CA.

    Ollama has no authentication of its own: whoever reaches its API may generate, and on the
    wrong routes pull or delete models. Published (a GPU host's private address), only the
    gateway's certificate may open it: `listen … ssl`, `ssl_verify_client on` and an
    `ssl_client_certificate` in each server that proxies. A container that publishes Ollama itself
    is refused by `internal-services-unpublished`.
    """
    if resource_type != CONTAINER or not published(props):
        return []
    known = config_files(props)
    if not known.files and known.pending is not None:
        raise known.pending
    return known.judged([problem for f in known.files for problem in _file_problems(f)])


def _file_problems(conf: ConfFile) -> list[str]:
    if conf.directives is None or not _reaches_ollama(conf.directives):
        return []  # an unparsable file fails the TLS rule already
    problems = []
    for server in (d for d in walk(conf.directives) if d.name == "server" and d.block is not None):
        block = server.block or []
        if not _proxies(block) or _loopback_only(block):
            continue
        reason = _mutual_tls_problem(block)
        if reason:
            problems.append(f"{conf.path}: a published server forwards to Ollama (:{OLLAMA_PORT}) but {reason}")
    return problems


def _reaches_ollama(directives: list[Directive]) -> bool:
    return any(f":{OLLAMA_PORT}" in arg for d in walk(directives) for arg in d.args)


def _proxies(block: list[Directive]) -> bool:
    return any(d.name in PROXYING for d in walk(block))


def _loopback_only(block: list[Directive]) -> bool:
    """A server only the container itself reaches (a healthcheck listener)."""
    listens = [d.args[0] for d in block if d.name == "listen" and d.args]
    return bool(listens) and all(a.startswith(("127.", "[::1]", "localhost:")) for a in listens)


def _mutual_tls_problem(block: list[Directive]) -> str:
    settings = {d.name: d.args for d in block if d.block is None}
    if any("ssl" not in d.args[1:] for d in block if d.name == "listen"):
        return "listens without ssl: plain HTTP would reach Ollama"
    if settings.get("ssl_verify_client") != ["on"]:
        return f"ssl_verify_client is {' '.join(settings.get('ssl_verify_client', ['off']))}, not on"
    if not settings.get("ssl_client_certificate"):
        return "names no ssl_client_certificate: no CA says whose certificate opens it"
    return ""
