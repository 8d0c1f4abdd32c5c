"""The watcher beside nginx (components/shipped/nginx/reload_on_change.sh): one SIGHUP per change.

Run with /bin/sh as in the nginx container; the "master" is a process that counts the SIGHUPs it gets,
standing in for nginx's master process (its graceful reload is shown live in test_acme_live.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import PROJECT_DIR

WATCHER = PROJECT_DIR / "components" / "shipped" / "nginx" / "reload_on_change.sh"
INTERVAL = 0.1


@dataclass
class Watched:
    """The watched file and directory, and where the stand-in master counts its SIGHUPs."""

    directory: Path
    single: Path
    hups: Path
    log: Path

    def count(self, expected: int) -> int:
        """SIGHUPs so far: waits up to 10 s for `expected` (a loaded machine), then a few checks more."""
        deadline = time.monotonic() + 10
        while self._hups() < expected and time.monotonic() < deadline:
            time.sleep(INTERVAL)
        time.sleep(6 * INTERVAL)
        return self._hups()

    def _hups(self) -> int:
        return len(self.hups.read_text().splitlines()) if self.hups.exists() else 0


def replace(path: Path, content: str) -> None:
    """Write by rename, as lego's loop installs the certificate."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(content)
    os.replace(temporary, path)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    directory, single, hups = tmp_path / "conf.d", tmp_path / "edge.pem", tmp_path / "hups"
    directory.mkdir()
    (directory / "htpasswd").write_text("a:hash\n")
    single.write_text("pem one\n")
    # Python sets its handler whatever it inherits (a shell started under `nohup` cannot trap SIGHUP),
    # as nginx's master does.
    count = f"open({str(hups)!r}, 'a').write('hup\\n')"
    master_code = f"import signal, time\nsignal.signal(signal.SIGHUP, lambda *_: {count})\nwhile True: time.sleep(1)"
    master = subprocess.Popen([sys.executable, "-c", master_code])
    log = tmp_path / "watcher.log"
    with log.open("w") as output:
        watcher = subprocess.Popen(
            ["/bin/sh", str(WATCHER), str(INTERVAL), str(master.pid), str(single), str(directory)], stderr=output
        )
    deadline = time.monotonic() + 10
    while "watching" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(INTERVAL)
    yield Watched(directory, single, hups, log)
    for process in (watcher, master):
        process.terminate()
        process.wait(timeout=5)


def test_nothing_changed_no_reload(watched: Watched) -> None:
    time.sleep(10 * INTERVAL)
    assert watched.count(0) == 0


def test_each_change_of_a_file_or_in_a_directory_reloads_once(watched: Watched) -> None:
    replace(watched.single, "pem two\n")
    assert watched.count(1) == 1
    replace(watched.directory / "htpasswd", "a:new hash\n")
    assert watched.count(2) == 2
    (watched.directory / "extra").write_text("x\n")
    assert watched.count(3) == 3
    (watched.directory / "extra").unlink()
    assert watched.count(4) == 4
    assert "nginx reloads gracefully" in watched.log.read_text()


def test_a_path_missing_for_a_while_is_no_change(watched: Watched) -> None:
    content = watched.single.read_text()
    watched.single.unlink()
    time.sleep(10 * INTERVAL)
    assert watched.count(0) == 0
    watched.single.write_text(content)
    time.sleep(10 * INTERVAL)
    assert watched.count(0) == 0
