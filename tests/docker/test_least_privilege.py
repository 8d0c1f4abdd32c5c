"""Least privilege on the real engine (#22): who each container runs as, what it may write, its ceilings.

Read from inside the running containers of the dev stack, as the kernel applies them: `/proc/1/status`
(uids, capabilities, no_new_privs of the serving process), `/proc/self/mounts` (tmpfs options),
`/proc/1/limits` and the cgroup (ceilings). Writes are tried as uid 0 of the container (`docker exec
--user 0`, still without a capability): root owns the image's files, so only the read-only root
stops it. The stand-in images keep the real images' users and paths (tests/docker/images.py).
Files reach the read-only containers through volumes filled by never-started carriers: the bytes the
render delivers are the bytes the serving process reads, and a changed file replaces exactly its
carrier and its reader, as uploads into the reader did before.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from offline.engine import OfflineRun, reveal
from tests.docker.conftest import HEALTHY_WITHIN, Stack, dev_config
from tests.live.ollama_standin import REPLY_WORDS

SERVING = ("ollama-container", "gateway-container", "edge-container")
CAPABILITY_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def _status(stack: Stack, resource: str) -> dict[str, str]:
    """`/proc/1/status` of the container's serving process, field -> value."""
    result = stack.exec(resource, "cat", "/proc/1/status")
    assert result.returncode == 0, result.stderr
    return dict(line.split(":\t", 1) for line in result.stdout.splitlines() if ":\t" in line)


def _tmpfs_options(stack: Stack, resource: str) -> dict[str, set[str]]:
    """Mount point -> options of every tmpfs the container's process sees but Docker's own."""
    mounts = stack.exec(resource, "cat", "/proc/self/mounts").stdout.splitlines()
    found = {}
    for line in mounts:
        _, point, kind, options, *_ = line.split()
        # Docker masks /proc and /sys paths with empty read-only tmpfs; its /dev is its own.
        if kind == "tmpfs" and not point.startswith(("/dev", "/proc/", "/sys/")):
            found[point] = set(options.split(","))
    return found


def _declared_tmpfs(stack: Stack, resource: str) -> dict[str, int]:
    """Mount point -> size in KiB, from the rendered `tmpfs` input."""
    declared = {}
    for path, options in (stack.inputs(resource).get("tmpfs") or {}).items():
        size = next(o for o in options.split(",") if o.startswith("size="))
        declared[path] = int(size.removeprefix("size=").removesuffix("m")) * 1024
    return declared


@pytest.mark.parametrize("resource", SERVING)
def test_the_serving_process_runs_as_its_non_root_uid_with_no_capability(dev: Stack, resource: str) -> None:
    uid, gid = str(dev.inputs(resource)["user"]).split(":")
    assert uid != "0"
    status = _status(dev, resource)
    assert status["Uid"].split() == [uid] * 4, status["Uid"]
    assert status["Gid"].split() == [gid] * 4, status["Gid"]
    assert {name: int(status[name], 16) for name in CAPABILITY_SETS} == dict.fromkeys(CAPABILITY_SETS, 0)
    assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.parametrize("resource", SERVING)
def test_even_root_inside_cannot_write_the_root_filesystem(dev: Stack, resource: str) -> None:
    for path in ("/llmstack-probe", "/etc/llmstack-probe", "/usr/local/bin/llmstack-probe"):
        result = dev.exec(resource, "sh", "-c", f": > {path}", user="0")
        assert result.returncode != 0, f"{resource}: wrote {path}"
        assert "Read-only file system" in result.stderr, (path, result.stderr)


@pytest.mark.parametrize("resource", SERVING)
def test_tmpfs_is_the_only_scratch_space_and_is_capped_noexec(dev: Stack, resource: str) -> None:
    declared = _declared_tmpfs(dev, resource)
    mounted = _tmpfs_options(dev, resource)
    assert set(mounted) == set(declared), "no tmpfs but the declared ones"
    for path, size_kib in declared.items():
        assert {"noexec", "nosuid", "nodev", f"size={size_kib}k"} <= mounted[path], (path, mounted[path])
        # The process's own uid writes there ...
        wrote = dev.exec(resource, "sh", "-c", f"echo x > {path}/llmstack-probe && cat {path}/llmstack-probe")
        assert (wrote.returncode, wrote.stdout) == (0, "x\n"), wrote.stderr
        # ... but nothing copied there runs.
        ran = dev.exec(resource, "sh", "-c", f"cp /bin/true {path}/llmstack-true && {path}/llmstack-true")
        assert ran.returncode == 126, (ran.returncode, ran.stderr)
        assert "Permission denied" in ran.stderr
        dev.exec(resource, "rm", "-f", f"{path}/llmstack-probe", f"{path}/llmstack-true")


@pytest.mark.parametrize("resource", ["edge-container", "gateway-container"])
def test_the_tmpfs_cap_is_enforced(dev: Stack, resource: str) -> None:
    (path, size_kib), *_ = _declared_tmpfs(dev, resource).items()
    fill = f"dd if=/dev/zero of={path}/llmstack-fill bs=1M count={size_kib // 1024 + 8}"
    try:
        result = dev.exec(resource, "sh", "-c", fill, timeout=60)
        assert result.returncode != 0
        assert "No space left on device" in result.stderr
    finally:
        dev.exec(resource, "rm", "-f", f"{path}/llmstack-fill")


def _limit(limits: str, name: str) -> tuple[int, int]:
    line = next(line for line in limits.splitlines() if line.startswith(name))
    soft, hard = line[len(name) :].split()[:2]
    return int(soft), int(hard)


def _cgroup_cpu_weight(stack: Stack, resource: str) -> int:
    """The CPU weight the kernel applies: cgroup v1's cpu.shares, else v2's cpu.weight."""
    found = stack.exec(
        resource,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.shares 2>/dev/null"
        " || cat /sys/fs/cgroup/cpu.weight",
    )
    assert found.returncode == 0, found.stderr
    return int(found.stdout.split()[0])


@pytest.mark.parametrize("resource", SERVING)
def test_the_ceilings_apply_to_the_serving_process(dev: Stack, resource: str) -> None:
    declared = {u["name"]: (int(u["soft"]), int(u["hard"])) for u in dev.inputs(resource)["ulimits"]}
    limits = dev.exec(resource, "cat", "/proc/1/limits").stdout
    assert _limit(limits, "Max open files") == declared["nofile"]
    assert _limit(limits, "Max processes") == declared["nproc"]
    shares = int(dev.inputs(resource)["cpuShares"])
    applied = _cgroup_cpu_weight(dev, resource)
    # cgroup v1 stores the shares; v2 a weight (runc: 1 + (shares - 2) * 9999 / 262142).
    assert applied in (shares, 1 + (shares - 2) * 9999 // 262142)
    memory = int(dev.applier.inspect(resource)["HostConfig"]["Memory"])
    assert memory == int(dev.inputs(resource)["memory"]) * 2**20


def test_the_process_ceiling_stops_a_fork_bomb_of_the_uid(dev: Stack) -> None:
    """The nginx uid may have 512 processes: forking past it fails (the kernel counts per uid)."""
    nproc = {u["name"]: int(u["hard"]) for u in dev.inputs("edge-container")["ulimits"]}["nproc"]
    bomb = (
        "import os, signal, time\n"
        "children = []\n"
        "try:\n"
        f"    for _ in range({nproc + 50}):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        children.append(pid)\n"
        "    print('unbounded', len(children))\n"
        "except BlockingIOError:\n"
        "    print('stopped', len(children))\n"
        "finally:\n"
        "    for pid in children: os.kill(pid, signal.SIGKILL)\n"
        "    for pid in children: os.waitpid(pid, 0)\n"
    )
    result = dev.exec("edge-container", "python3", "-c", bomb, timeout=60)
    verdict, count = result.stdout.split()
    assert verdict == "stopped", result.stdout
    assert int(count) < nproc


def test_the_one_shots_ran_as_root_without_capability_and_with_a_read_only_root(dev: Stack) -> None:
    """The exceptions to non-root: they wrote their volume and exited.

    The model pull, the key writer, and the ban list's volume setup, whose one capability is CHOWN.
    """
    for name in dev.one_shots():
        found = dev.applier.inspect(name)
        host = found["HostConfig"]
        assert (found["State"]["Status"], found["State"]["ExitCode"]) == ("exited", 0), name
        assert found["Config"]["User"] == "0:0", name
        assert host["ReadonlyRootfs"] is True, name
        assert host["CapDrop"] == ["ALL"], name
        assert host["CapAdd"] == (["CAP_CHOWN"] if name == "gateway-bans-setup" else None), name
        assert host["SecurityOpt"] == ["no-new-privileges"], name
    # LiteLLM (nobody) owns the ban list's volume: without the setup it could not write a ban.
    probe = "import os; s = os.stat('/var/lib/llmstack/bans'); print(f'{s.st_uid}:{s.st_gid}', oct(s.st_mode & 0o777))"
    owner = dev.exec("gateway-container", "python3", "-c", probe, timeout=30)
    assert owner.stdout.split() == ["65534:65534", "0o700"]


def _carrier_files(stack: Stack, carrier: str) -> dict[str, str]:
    return {str(u["file"]): str(u["content"]) for u in stack.inputs(carrier)["uploads"]}


def _reader_of(stack: Stack, carrier: str) -> str:
    """The container that mounts the carrier's volume read-only."""
    volume = stack.inputs(carrier)["volumes"][0]["volumeName"]
    (reader,) = [
        name
        for name in [*stack.serving(), *stack.one_shots()]
        if any(v.get("volumeName") == volume and v.get("readOnly") for v in stack.inputs(name).get("volumes") or [])
    ]
    return reader


def test_carriers_never_start_and_have_nothing_to_run_with(dev: Stack) -> None:
    carriers = ["edge-files-carrier", "gateway-client-keys-inbox-carrier", "gateway-files-carrier"]
    assert sorted(dev.carriers()) == carriers
    for name in dev.carriers():
        found = dev.applier.inspect(name)
        assert found["State"]["Status"] == "created", name
        assert found["State"]["StartedAt"].startswith("0001-01-01"), f"{name} was started once"
        assert found["HostConfig"]["NetworkMode"] == "none", name
        assert found["HostConfig"]["CapDrop"] == ["ALL"], name


@pytest.mark.parametrize("carrier", ["edge-files-carrier", "gateway-files-carrier"])
def test_the_reader_reads_exactly_the_delivered_files_and_cannot_change_them(dev: Stack, carrier: str) -> None:
    reader = _reader_of(dev, carrier)
    for path, content in _carrier_files(dev, carrier).items():
        read = dev.exec(reader, "cat", path)
        assert read.returncode == 0, (path, read.stderr)
        assert read.stdout == content, f"{reader} reads another {path} than the render delivered"
        mode = dev.exec(reader, "stat", "-c", "%a %u", path).stdout.split()
        assert mode == ["444", "0"], (path, mode)
        # Root inside owns the directory (no capability needed to add a file): only the read-only mount stops it.
        added = dev.exec(reader, "sh", "-c", f": > {path}.llmstack-probe", user="0")
        assert "Read-only file system" in added.stderr, (path, added.stderr)


def _chat(stack: Stack) -> str:
    key = stack.outputs["clients"]["dev"]["apiKey"]
    body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
    with stack.client() as client:
        response = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def test_the_confined_stack_still_serves_a_chat(dev: Stack) -> None:
    assert _chat(dev) == "".join(REPLY_WORDS)


def _models(stack: Stack) -> list[str]:
    key = stack.outputs["clients"]["dev"]["apiKey"]
    with stack.client() as client:
        response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    return [model["id"] for model in response.json()["data"]] if response.status_code == 200 else []


@pytest.mark.parametrize(
    ("change", "carrier", "reader", "observed"),
    [
        # Only loopback allowed: the host's docker-proxy reaches nginx from the bridge gateway, so
        # the new allow-list refuses it (the new nginx.conf is live) and the old one lets it in.
        ({"allowedCidrs": ["127.0.0.0/8"]}, "edge-files-carrier", "edge-container", []),
        (
            {"models": ["qwen2.5-0.5b=qwen2.5:0.5b", "tiny=tinyllama:latest"]},
            "gateway-files-carrier",
            "gateway-container",
            ["qwen2.5-0.5b", "tiny"],
        ),
    ],
)
def test_a_changed_file_reaches_its_reader_replacing_only_carrier_and_reader(
    dev: Stack,
    render_stack: Callable[..., OfflineRun],
    change: dict[str, object],
    carrier: str,
    reader: str,
    observed: list[str],
) -> None:
    """As uploads did before #22: the reader is replaced (it reads these files at start), nothing else is."""
    config = dev_config()
    changed = render_stack("dev", **{**config, **change})
    untouched = {name: dev.applier.inspect(name)["Id"] for name in dev.serving() if name != reader}
    try:
        replaced = dev.applier.update(changed)
        assert set(replaced) == {carrier, reader}, replaced
        dev.applier.wait_healthy(reader, HEALTHY_WITHIN)
        delivered = {u["file"]: u["content"] for u in reveal(changed.named(carrier).inputs)["uploads"]}
        assert delivered != _carrier_files(dev, carrier), "the change must change a delivered file"
        for path, content in delivered.items():
            assert dev.exec(reader, "cat", path).stdout == content, path
        assert {name: dev.applier.inspect(name)["Id"] for name in untouched} == untouched
        assert sorted(_models(dev)) == observed, "the serving process acts on the new file"
    finally:
        assert set(dev.applier.update(render_stack("dev", **config))) >= {carrier, reader}
        dev.applier.wait_healthy(reader, HEALTHY_WITHIN)
    assert _models(dev) == ["qwen2.5-0.5b"]
    assert _chat(dev) == "".join(REPLY_WORDS)
