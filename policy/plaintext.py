"""Secret-looking values in plaintext container inputs (envs, uploaded files)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from policy.containers import CONTAINER
from policy.nginx_conf import upload_content
from policy.props import Props, Secret, plaintext_items

SECRET_LOOKING = (
    ("an API key (sk-…)", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a password assignment", re.compile(r"(?i)\b(?:password|passwd)\s*=\s*[^\s&;'\"]+")),
    # `master_key: os.environ/VAR` is LiteLLM's indirection: it names a variable, not a value.
    (
        "a credential setting",
        re.compile(r"(?im)^\s*(?:password|passwd|master_key|api_key|secret|token)\s*:\s*(?!os\.environ/)[^\s#]+"),
    ),
)
"""What a plaintext value must not contain: (what it looks like, pattern)."""

_CREDENTIAL_NAME = re.compile(r"(?i)(?:^|_)(?:password|passwd|secret|token|api_key|master_key|private_key)$")


def plaintext_secrets(resource_type: str, props: Props) -> list[str]:
    """No secret-looking value in a container input that is not marked secret."""
    if resource_type != CONTAINER:
        return []
    problems = []
    for line in plaintext_items(props.get("envs")):
        if isinstance(line, str):
            problems += [f"plaintext env {_env_name(line)} holds {what}" for what in _looks_like(line)]
            name, _, value = line.partition("=")
            if value and _CREDENTIAL_NAME.search(name) and not _looks_like(line):
                problems.append(f"plaintext env {name} is named like a credential and has a value")
    for upload in plaintext_items(props.get("uploads")):
        if isinstance(upload, Mapping) and not _has_secret_content(upload):
            path = upload.get("file") or "(unnamed file)"
            problems += [f"plaintext upload {path} holds {what}" for what in _looks_like(upload_content(upload))]
    return problems


def _looks_like(value: str) -> list[str]:
    return [what for what, pattern in SECRET_LOOKING if pattern.search(value)]


def _has_secret_content(upload: Mapping[str, object]) -> bool:
    return isinstance(upload.get("content"), Secret) or isinstance(upload.get("contentBase64"), Secret)


def _env_name(line: str) -> str:
    return line.partition("=")[0]
