"""Container inputs in the form the docker provider reads back, so a second `pulumi up` is a no-op.

The provider (kreuzwerker/terraform-provider-docker, bridged by pulumi-docker 5.x) stores what
its Read gets from the engine: capabilities as the docker Go client rewrote them (`CAP_*`),
`memory_swap` as the engine set it, healthcheck durations as Go's `Duration.String()`. An input
in any other form is a change on every `up` (a replacement, for capabilities). The real-engine
tier's `--expect-no-changes` step proves the same end to end; these pin the forms offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from components import container_defaults as defaults
from components.container_defaults import DRAIN_SECONDS
from components.gateway import GATEWAY_GRACE_SECONDS
from offline import standins
from offline.engine import OfflineRun, ProgramFailedError, reveal
from tests.support import LAN, TUNNEL

CONTAINER = "docker:index/container:Container"
Deploy = Callable[..., OfflineRun]
SERVING = ("ollama-container", "gateway-container", "edge-container")


def containers(result: OfflineRun) -> dict[str, dict[str, Any]]:
    return {c.name: reveal(c.inputs) for c in result.of_type(CONTAINER)}


def go_duration_seconds(text: str) -> int:
    """Parse Go's Duration.String() form of whole seconds, strictly."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s", text)
    assert match, f"{text!r} is not a Go duration"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (5, "5s"), (15, "15s"), (60, "1m0s"), (90, "1m30s"), (3600, "1h0m0s")]
)
def test_durations_are_written_as_go_formats_them(seconds: int, text: str) -> None:
    assert defaults.go_duration(seconds) == text


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (("CHOWN", "setuid"), ["CAP_CHOWN", "CAP_SETUID"]),
        (("CAP_SETGID", "SETGID"), ["CAP_SETGID"]),
        (("all",), ["ALL"]),
        ((), []),
    ],
)
def test_capabilities_are_spelt_as_the_docker_client_sends_them(given: tuple[str, ...], stored: list[str]) -> None:
    # client/container_create.go normalizeCapabilities: upper case, CAP_ prefix but ALL, unique, sorted.
    assert defaults.capability_names(*given) == stored


@pytest.fixture(params=["local", "lan", "tunnel"])
def stack(request: pytest.FixtureRequest, deploy: Deploy) -> OfflineRun:
    configs: dict[str, Mapping[str, Any]] = {"local": {}, "lan": LAN, "tunnel": TUNNEL}
    config = configs[request.param]
    return deploy(**config, gpus="0,1")


def test_every_input_is_in_its_read_back_form(stack: OfflineRun) -> None:
    for name, container in containers(stack).items():
        caps = container["capabilities"]
        for key in ("adds", "drops"):
            if key in caps:
                assert caps[key] == defaults.capability_names(*caps[key]), (name, key)
        assert container["memorySwap"] == container["memory"] > 0, f"{name}: swap left to the engine drifts"
        check = container.get("healthcheck")
        if check:
            for key in ("interval", "timeout", "startPeriod"):
                assert defaults.go_duration(go_duration_seconds(check[key])) == check[key], (name, key)
        assert container["securityOpts"] == ["no-new-privileges"], name


VOLUME_SETUPS = {"gateway-bans-setup": "/var/lib/llmstack/bans"}
"""One-shot root jobs whose one capability, CHOWN, hands a volume Docker created root-owned to its user."""


def test_no_container_adds_back_a_capability(stack: OfflineRun) -> None:
    """Nginx runs as its own uid 101 on ports above 1024 (#22): its four capabilities went with root."""
    for name, container in containers(stack).items():
        if name in VOLUME_SETUPS:
            assert container["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_CHOWN"]}, name
            assert (container["user"], container["readOnly"], container["networkMode"]) == ("0:0", True, "none")
            volume = VOLUME_SETUPS[name]
            # Owner first (chmod without FOWNER needs it), the user's last: re-runnable on its own result.
            assert container["command"] == [f"chown 0 {volume} && chmod 0700 {volume} && chown 65534:65534 {volume}"]
            continue
        assert container["capabilities"] == {"drops": ["ALL"]}, name


def test_every_container_that_runs_is_confined(stack: OfflineRun) -> None:
    """Read-only root, tmpfs capped and noexec, ceilings in the forms the provider reads back."""
    for name, container in containers(stack).items():
        if container.get("start") is False:
            continue  # a file carrier: never started
        assert container["readOnly"] is True, name
        assert container["user"].split(":")[0] not in ("", "0") or container.get("attach"), name
        for path, options in (container.get("tmpfs") or {}).items():
            assert options.startswith("rw,noexec,nosuid,nodev,size="), (name, path)
        limits = {u["name"]: (u["soft"], u["hard"]) for u in container["ulimits"]}
        assert set(limits) == {"nofile", "nproc"}, name
        assert limits["nofile"] == (defaults.NOFILE, defaults.NOFILE), name
        assert container["cpuShares"] > 0, name


def test_serving_containers_run_as_the_images_unprivileged_users(stack: OfflineRun) -> None:
    found = containers(stack)
    assert found["edge-container"]["user"] == "101:101"
    assert found["gateway-container"]["user"] == "65534:65534"
    assert found["ollama-container"]["user"] == "10001:10001"
    if "tunnel-container" in found:
        assert found["tunnel-container"]["user"] == "65532:65532"


def test_litellms_start_period_reads_back_unchanged(deploy: Deploy) -> None:
    assert containers(deploy())["gateway-container"]["healthcheck"]["startPeriod"] == "1m0s"


def test_every_serving_container_is_waited_for_and_stopped_gracefully(stack: OfflineRun) -> None:
    found = containers(stack)
    serving = [*SERVING, *(["tunnel-container"] if "tunnel-container" in found else [])]
    for name in serving:
        container = found[name]
        assert container["wait"] is True, name
        assert container["waitTimeout"] >= 60, name
        assert container["destroyGraceSeconds"] >= 30, name
        assert stack.named(name).options["replaceOnChanges"] == ["healthcheck", "tmpfs", "ulimits", "labels"], name
    assert found["edge-container"]["stopSignal"] == "SIGQUIT", "nginx stops gracefully on SIGQUIT only"


def test_proxies_drain_for_a_bounded_time_whatever_the_generation_timeout(deploy: Deploy) -> None:
    """A replaced proxy is deleted before its successor starts: its drain is an outage, so it is short."""
    found = containers(deploy(generationTimeoutSeconds="1200"))
    assert found["edge-container"]["destroyGraceSeconds"] == DRAIN_SECONDS
    assert found["gateway-container"]["destroyGraceSeconds"] == GATEWAY_GRACE_SECONDS


def test_litellm_drains_as_long_as_docker_waits_for_it(deploy: Deploy) -> None:
    """LiteLLM's own drain (default 30 s) and gunicorn's 10 s teardown end before Docker's SIGKILL."""
    gateway = containers(deploy())["gateway-container"]
    envs = dict(line.split("=", 1) for line in gateway["envs"])
    assert int(envs["GRACEFUL_SHUTDOWN_TIMEOUT"]) == DRAIN_SECONDS
    assert gateway["destroyGraceSeconds"] > DRAIN_SECONDS + 10


def test_one_shot_containers_are_not_waited_for_health(stack: OfflineRun) -> None:
    for name, container in containers(stack).items():
        if container.get("attach"):
            assert not container.get("wait"), name


def test_a_pull_may_run_longer_than_the_providers_default_timeout(deploy: Deploy) -> None:
    result = deploy()
    pullers = [r for r in result.of_type(CONTAINER) if r.name.startswith("ollama-pull-")]
    assert pullers
    for puller in pullers:
        assert puller.options["customTimeouts"] == {"create": "4h", "update": "4h"}


# --- exit codes of one-shot containers ---------------------------------------------------------


def test_exit_code_zero_passes() -> None:
    defaults.checked_exit("job", "urn:x", 0.0, None, preview=False)


def test_no_exit_code_passes_only_in_a_preview() -> None:
    defaults.checked_exit("job", "urn:x", None, None, preview=True)
    with pytest.raises(RuntimeError, match="no exit code recorded") as error:
        defaults.checked_exit("job", "urn:x", None, None, preview=False)
    assert "pulumi up --replace 'urn:x'" in str(error.value)


def test_a_failed_run_names_its_exit_code_its_last_lines_and_the_retry_command() -> None:
    logs = "\n".join(f"line {n}" for n in range(10))
    with pytest.raises(RuntimeError) as error:
        defaults.checked_exit("pulling 'm'", "urn:y", 1.0, logs, preview=True)
    message = str(error.value)
    assert "exit code 1" in message
    assert "pulumi up --replace 'urn:y'" in message
    assert "line 9" in message
    assert "line 4" not in message


def exiting(code: float | None) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
    """A docker.Container stand-in whose one-shot containers recorded `code` (None: still running)."""

    def stand_in(inputs: Mapping[str, Any], rng: Any) -> dict[str, Any]:
        del rng
        return {**inputs, "exitCode": code} if inputs.get("attach") else dict(inputs)

    return stand_in


@pytest.mark.parametrize(
    ("failing", "urn_suffix"),
    [
        ("ollama-pull-", "llmstack:index:ModelServer$docker:index/container:Container::ollama-pull-qwen2.5-0.5b"),
        (
            "gateway-client-keys-writer",
            "llmstack:index:ClientKeys$docker:index/container:Container::gateway-client-keys-writer",
        ),
    ],
)
@pytest.mark.parametrize("code", [1.0, None])
def test_a_failed_one_shot_fails_the_update_with_the_exact_replace_command(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch, failing: str, urn_suffix: str, code: float | None
) -> None:
    def stand_in(inputs: Mapping[str, Any], rng: Any) -> dict[str, Any]:
        fails = str(inputs.get("name", "")).startswith(f"llmstack-test-{failing.removeprefix('gateway-')}")
        return exiting(code if fails else 0.0)(inputs, rng)

    monkeypatch.setitem(standins.STAND_INS, CONTAINER, stand_in)
    with pytest.raises(ProgramFailedError) as error:
        deploy()
    assert f"pulumi up --replace 'urn:pulumi:test::llmstack::{urn_suffix}'" in str(error.value)
