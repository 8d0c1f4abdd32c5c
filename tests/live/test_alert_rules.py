"""Every alert rule, under Debian's `promtool test rules`: it fires on its trouble, not on normal traffic.

The rule file is the renderer's (with the tunnel's rule, which a tunnel stack adds). Each case is
promtool's own unit-test format: input series over time, and the alerts expected at a moment. So
that a case cannot pass by testing nothing, each rule is also neutered in turn (its expression
made one that never fires) and promtool must then fail.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.render.alert_rules import (
    AUTH_FAILURES,
    BANS,
    CERTIFICATE_WARNING_DAYS,
    REQUESTS,
    AlertRulesContext,
    alert_rules,
)
from components.render.monitoring import JOB_TUNNEL
from components.shipped.probe.llmstack_probe import CERTIFICATE_EXPIRY, MODEL_PRESENT, MODEL_SERVER_UP
from tests.live.monitoring import binary

DAY = 86400
OK_REQUESTS = f'{REQUESTS}{{api_key_alias="alice",requested_model="small",status_code="200"}}'
ERROR_REQUESTS = f'{REQUESTS}{{api_key_alias="alice",requested_model="small",status_code="500"}}'
BUSY_REQUESTS = f'{REQUESTS}{{api_key_alias="alice",requested_model="small",status_code="503"}}'
FAILURES = AUTH_FAILURES.replace("{", '{requested_model="small",')
TUNNEL_UP = f'up{{job="{JOB_TUNNEL}"}}'
HA_CONNECTIONS = "cloudflared_tunnel_ha_connections"
NORMAL = {
    # A busy day: 2 requests a second, one wrong key a minute, a rare 500 and 503, everything up.
    OK_REQUESTS: "0+30x80",
    ERROR_REQUESTS: "0+0x40 1+0x40",
    BUSY_REQUESTS: "0+0x60 1+0x20",
    FAILURES: "0+0.25x80",
    BANS: "0+0x80",
    MODEL_SERVER_UP: "1x80",
    f'{MODEL_PRESENT}{{model="small",tag="qwen2.5:0.5b"}}': "1x80",
    'up{job="litellm"}': "1x80",
    TUNNEL_UP: "1x80",
    HA_CONNECTIONS: "4x80",
    CERTIFICATE_EXPIRY: f"{90 * DAY}x80",
}
"""Input series of normal operation, one sample each 15 s for 20 minutes."""


@dataclass(frozen=True)
class Trouble:
    """What makes one alert fire: series replaced in `NORMAL`, and when it must be firing."""

    alert: str
    series: dict[str, str | None]
    """Replaced series; None removes one (its exporter is gone)."""
    at: str
    quiet_at: str | None = "1m"
    """A moment before the trouble, when the alert must not fire yet (None: trouble from the start)."""
    also: tuple[str, ...] = ()
    """Alerts the same trouble fires too."""


TROUBLES = [
    Trouble("AuthFailureBurst", {FAILURES: "0+0x40 0+3x40"}, at="12m"),
    Trouble("AddressBanned", {BANS: "0+0x40 1+0x40"}, at="11m"),
    Trouble("ServerErrorRate", {ERROR_REQUESTS: "0+0x20 0+5x60"}, at="15m"),
    Trouble("AdmissionQueueSaturated", {BUSY_REQUESTS: "0+0x20 0+1x60"}, at="12m"),
    Trouble("ModelServerDown", {MODEL_SERVER_UP: "1x20 0x60"}, at="8m"),
    Trouble("ModelMissing", {f'{MODEL_PRESENT}{{model="small",tag="qwen2.5:0.5b"}}': "1x20 0x60"}, at="12m"),
    Trouble("TargetDown", {'up{job="litellm"}': "1x20 0x60"}, at="10m"),
    Trouble("CertificateExpiresSoon", {CERTIFICATE_EXPIRY: f"{(CERTIFICATE_WARNING_DAYS - 1) * DAY}x80"}, "5m", None),
    Trouble("TunnelDown", {HA_CONNECTIONS: "4x20 0x60"}, at="10m"),
    # The watch stops answering (cloudflared's namespace is gone): its scrape fails.
    Trouble("TunnelDown", {TUNNEL_UP: "1x20 0x60", HA_CONNECTIONS: "4x20 stale"}, at="10m", also=("TargetDown",)),
    # No tunnel target at all: neither series exists.
    Trouble("TunnelDown", {TUNNEL_UP: None, HA_CONNECTIONS: None}, at="5m", quiet_at=None),
]
RULES = alert_rules(AlertRulesContext(tunnel=True))
RULE_NAMES = [rule["alert"] for rule in RULES["groups"][0]["rules"]]  # type: ignore[index]


def _series(values: Mapping[str, str | None]) -> list[dict[str, str]]:
    return [{"series": name, "values": samples} for name, samples in values.items() if samples is not None]


def _cases() -> list[dict[str, object]]:
    """The promtool tests: normal traffic fires nothing; each trouble fires its alert (and only it)."""
    quiet = [{"eval_time": at, "alertname": name, "exp_alerts": []} for name in RULE_NAMES for at in ("5m", "19m")]
    cases: list[dict[str, object]] = [{"interval": "15s", "input_series": _series(NORMAL), "alert_rule_test": quiet}]
    for trouble in TROUBLES:
        rule = _rule(trouble.alert)
        expected = [{"exp_labels": {**rule["labels"], **_labels(trouble)}, "exp_annotations": rule["annotations"]}]
        checks = [{"eval_time": trouble.at, "alertname": trouble.alert, "exp_alerts": expected}]
        if trouble.quiet_at is not None:
            checks.append({"eval_time": trouble.quiet_at, "alertname": trouble.alert, "exp_alerts": []})
        checks += [
            {"eval_time": trouble.at, "alertname": n, "exp_alerts": []}
            for n in RULE_NAMES
            if n != trouble.alert and n not in trouble.also
        ]
        cases.append(
            {"interval": "15s", "input_series": _series({**NORMAL, **trouble.series}), "alert_rule_test": checks}
        )
    return cases


def _rule(alert: str) -> dict[str, dict[str, str]]:
    (rule,) = (r for r in RULES["groups"][0]["rules"] if r["alert"] == alert)  # type: ignore[index]
    return rule  # type: ignore[no-any-return]


def _labels(trouble: Trouble) -> dict[str, str]:
    """The series labels an alert keeps (rules without aggregation keep the failing series' labels)."""
    return {
        "ModelServerDown": {},
        "ModelMissing": {"model": "small", "tag": "qwen2.5:0.5b"},
        "TargetDown": {"job": "litellm"},
        "CertificateExpiresSoon": {},
    }.get(trouble.alert, {})


def _promtool_test(directory: Path, rules: dict[str, object]) -> subprocess.CompletedProcess[str]:
    (directory / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "15s", "tests": _cases()}
    (directory / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return subprocess.run(
        [binary("promtool"), "test", "rules", "tests.yml"], cwd=directory, capture_output=True, text=True, timeout=120
    )


def test_every_rule_has_a_trouble_case() -> None:
    assert sorted({t.alert for t in TROUBLES}) == sorted(RULE_NAMES)


def test_the_rules_pass_promtool_check(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES, sort_keys=False))
    check = subprocess.run(
        [binary("promtool"), "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(RULE_NAMES)} rules found" in check.stdout


def test_each_alert_fires_on_its_trouble_and_none_on_normal_traffic(tmp_path: Path) -> None:
    result = _promtool_test(tmp_path, RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("neutered", RULE_NAMES)
def test_a_rule_that_never_fires_fails_its_case(neutered: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(yaml.safe_dump(RULES))
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == neutered:
            rule["expr"] = "vector(0) > 1"
    result = _promtool_test(tmp_path, rules)
    assert result.returncode != 0
    assert neutered in result.stdout + result.stderr


@pytest.mark.parametrize("branch", [0, 1], ids=["connections-only", "target-only"])
def test_each_way_tunnel_down_fires_has_its_own_case(branch: int, tmp_path: Path) -> None:
    """TunnelDown fires at 0 connections or without an answering target: either half alone fails a case."""
    rules = yaml.safe_load(yaml.safe_dump(RULES))
    (rule,) = [rule for rule in rules["groups"][0]["rules"] if rule["alert"] == "TunnelDown"]
    halves = rule["expr"].split(" or ")
    assert len(halves) == 2, rule["expr"]
    rule["expr"] = halves[branch]
    result = _promtool_test(tmp_path, rules)
    assert result.returncode != 0
    assert "TunnelDown" in result.stdout + result.stderr
