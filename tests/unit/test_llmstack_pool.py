"""Reading the GPU pool's deployments file in LiteLLM (components/shipped/litellm/llmstack_pool.py).

Loaded by path, as the auth hook loads it in the container. That the router takes a new file without
a restart is tests/live/test_pool_reload_live.py, in the real LiteLLM.
"""

from __future__ import annotations

import pytest
import yaml

from components.render.litellm import LiteLLMContext, PoolHost, ServedModel, render_pool_deployments
from tests.support import load_shipped

pool = load_shipped("llmstack_pool")

CONTEXT = LiteLLMContext(
    models=(ServedModel(name="small", ollama_tag="qwen2.5:0.5b"), ServedModel(name="big", ollama_tag="qwen2.5:14b")),
    ollama_url="http://ollama:11434",
    generation_timeout_seconds=900,
    pool=(
        PoolHost(
            name="gpu1", url="http://pool-egress:11434/hosts/gpu1", models=("small", "big"), max_parallel_requests=18
        ),
        PoolHost(name="gpu2", url="http://pool-egress:11434/hosts/gpu2", models=("big",), max_parallel_requests=17),
    ),
)


def test_a_rendered_pool_file_reads_as_its_deployments() -> None:
    text = render_pool_deployments(CONTEXT)
    deployments = pool.parse(text)
    assert deployments == yaml.safe_load(text)["model_list"]
    assert [(d["model_name"], d["litellm_params"]["api_base"]) for d in deployments] == [
        ("small", "http://pool-egress:11434/hosts/gpu1"),
        ("big", "http://pool-egress:11434/hosts/gpu1"),
        ("big", "http://pool-egress:11434/hosts/gpu2"),
    ]


def test_a_file_cut_short_anywhere_is_refused() -> None:
    """A worker may read the file while Docker writes it: most prefixes still parse as YAML, as fewer hosts."""
    text = render_pool_deployments(CONTEXT)
    for end in range(len(text) - 1):
        prefix = text[:end]
        if prefix.rstrip() == text.rstrip():
            continue  # only the final newline missing: the same file
        with pytest.raises(pool.PoolFileError):
            pool.parse(prefix)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("model_list: [", "not YAML"),
        ("- a\n- b\n", "no model_list"),
        ("model_list: []\n", "sha256 does not match"),
        ("model_list:\n- just a string\nsha256: {digest}\n", "not a deployment"),
    ],
)
def test_a_malformed_file_is_refused_with_its_reason(text: str, reason: str) -> None:
    digest = pool.contract.pool_deployments_digest(["just a string"])
    with pytest.raises(pool.PoolFileError, match=reason):
        pool.parse(text.format(digest=digest))


def test_a_single_host_stack_has_no_pool_file() -> None:
    with pytest.raises(ValueError, match="single-host"):
        render_pool_deployments(LiteLLMContext(models=CONTEXT.models, ollama_url="x", generation_timeout_seconds=9))
