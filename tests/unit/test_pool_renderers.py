"""The pool's renderers: terminator and egress nginx.conf, and LiteLLM's router with and without hosts.

The exact rendered files run in the real nginx in tests/live/test_gpu_pool_live.py.
"""

from __future__ import annotations

import pytest
import yaml

from components.render.litellm import (
    LiteLLMContext,
    PoolHost,
    ServedModel,
    render_litellm_config,
    render_pool_deployments,
)
from components.render.pool import (
    EgressContext,
    PoolRoute,
    TerminatorContext,
    render_egress_conf,
    render_egress_routes,
    render_terminator_conf,
)

MODELS = (ServedModel(name="small", ollama_tag="qwen2.5:0.5b"), ServedModel(name="big", ollama_tag="qwen2.5:14b"))
TERMINATOR = TerminatorContext(
    listen_port=11443,
    health_port=8081,
    ollama_host="ollama",
    ollama_port=11434,
    dns_resolver="127.0.0.11",
    certificate_file="tls/server.crt",
    private_key_file="tls/server.key",
    client_ca_file="tls/pool-ca.crt",
    allowed_addresses=("10.0.0.2",),
    generation_timeout_seconds=900,
    max_body_mb=16,
)
ROUTES = (
    PoolRoute(host="gpu1", address="10.0.0.11", port=11443),
    PoolRoute(host="gpu2", address="10.0.0.12", port=11443),
)
EGRESS = EgressContext(
    listen_port=11434,
    health_port=8081,
    routes_file="pool/routes.conf",
    server_name_domain="pool.llmstack.internal",
    certificate_file="tls/gateway.crt",
    private_key_file="tls/gateway.key",
    ca_file="tls/pool-ca.crt",
    generation_timeout_seconds=900,
    max_body_mb=16,
)


def test_the_terminator_admits_the_gateway_address_alone_with_a_client_certificate() -> None:
    conf = render_terminator_conf(TERMINATOR)
    assert "ssl_verify_client on;" in conf
    assert "ssl_client_certificate tls/pool-ca.crt;" in conf
    assert "allow 10.0.0.2;\n        deny all;" in conf
    assert "ssl_protocols TLSv1.3;" in conf
    assert "proxy_read_timeout 905s;" in conf


def test_a_terminator_without_an_allowed_address_is_refused() -> None:
    with pytest.raises(ValueError, match="gateway host's address"):
        render_terminator_conf(TerminatorContext(**{**TERMINATOR.__dict__, "allowed_addresses": ()}))


def test_the_egress_routes_give_each_host_one_upstream_and_its_name() -> None:
    routes = render_egress_routes(ROUTES)
    for route in ROUTES:
        assert f"upstream pool-host-{route.host} {{\n    # No passive" in routes
        assert f"server {route.address}:{route.port} max_fails=0;" in routes
        assert f"    {route.host} pool-host-{route.host};\n" in routes
    assert 'map $pool_host $pool_upstream {\n    default "";' in routes, "an unknown host leads nowhere"


def test_a_host_routed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="routed twice: gpu1"):
        render_egress_routes((*ROUTES, PoolRoute(host="gpu1", address="10.0.0.13", port=11443)))


def test_the_egress_conf_includes_the_hosts_file_and_checks_each_host_by_its_name() -> None:
    conf = render_egress_conf(EGRESS)
    assert "include pool/routes.conf;" in conf
    assert "proxy_ssl_verify on;" in conf
    assert "proxy_ssl_name $pool_host.pool.llmstack.internal;" in conf
    assert "proxy_set_header Host $pool_host.pool.llmstack.internal;" in conf
    assert "proxy_next_upstream off;" in conf
    assert "error_page 502 504 =500 @unreachable;" in conf
    # Only Ollama's serving paths, forwarded from what nginx matched (no query string).
    assert "proxy_pass https://$pool_upstream$ollama_path;" in conf
    assert "location ~ ^/hosts/(?<pool_host>[a-z0-9-]+)(?<ollama_path>/api/chat|" in conf


def test_a_single_host_router_keeps_one_deployment_and_no_cooldowns() -> None:
    context = LiteLLMContext(models=MODELS, ollama_url="http://ollama:11434", generation_timeout_seconds=900)
    config = yaml.safe_load(render_litellm_config(context))
    assert [d["litellm_params"]["api_base"] for d in config["model_list"]] == ["http://ollama:11434"] * 2
    assert config["router_settings"] == {"timeout": 900, "num_retries": 0, "disable_cooldowns": True}
    assert "llmstack_abandoned.abandoned_calls" not in config["litellm_settings"]["callbacks"], "no choice to skew"


def test_a_pool_router_skips_hosts_without_the_model() -> None:
    pool = (
        PoolHost(name="gpu1", url="http://ollama-gpu1:11434", models=("small", "big"), max_parallel_requests=18),
        PoolHost(name="gpu2", url="http://ollama-gpu2:11434", models=("big",), max_parallel_requests=17),
    )
    context = LiteLLMContext(models=MODELS, ollama_url="http://ollama:11434", generation_timeout_seconds=900, pool=pool)
    config = yaml.safe_load(render_litellm_config(context))
    assert config["model_list"] == [], "LiteLLM takes the pool's deployments from their own file"
    deployments = yaml.safe_load(render_pool_deployments(context))["model_list"]
    assert [(d["model_name"], d["litellm_params"]["api_base"]) for d in deployments] == [
        ("small", "http://ollama-gpu1:11434"),
        ("big", "http://ollama-gpu1:11434"),
        ("big", "http://ollama-gpu2:11434"),
    ]
    assert "rpm" not in str(deployments), "rpm would become a concurrency limit (see the renderer)"
    # Least-busy's count of a chat whose client left ends with it (tests/live/test_gpu_pool_live.py).
    assert "llmstack_abandoned.abandoned_calls" in config["litellm_settings"]["callbacks"]
    router = config["router_settings"]
    resting = {k for k, v in router["allowed_fails_policy"].items() if v == 0}
    assert resting == {"InternalServerErrorAllowedFails"}, "only the egress's 500 (host unreachable) rests a host"
    assert router["allowed_fails"] >= 1000, "Ollama's queue-full 503 falls under the default: never rests a host"
    assert router["cooldown_time"] > 0
