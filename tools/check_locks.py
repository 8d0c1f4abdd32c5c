"""Check that each hash lock is closed: every dependency of a locked package is locked too.

The locks are installed with `pip install --no-deps --require-hashes`, so nothing outside a lock
is ever resolved on the day of the install. An incomplete lock would then install a venv with a
package missing; this check (and `pip check` after the install) says which one, and who needs it.

The dependency metadata comes from the installed distributions of the locked versions (the venv
this runs in was installed from these locks), so markers and extras are evaluated as pip would.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s\\;]+)")


@dataclass(frozen=True)
class Missing:
    """A dependency that locked packages need and the lock does not hold."""

    name: str
    needed_by: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} (required by {', '.join(self.needed_by)})"


def locked_versions(lock_text: str) -> dict[str, str]:
    """Return {canonical name: version} for the `name==version` lines of a pip-compile lock."""
    pins: dict[str, str] = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(3)
    return pins


def root_requirements(source: Path) -> list[Requirement]:
    """Return the requirements of a requirements*.in file, following its `-r` includes.

    `-c` constraints and other options add no requirement, so they are skipped.
    """
    roots = []
    for raw in source.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            roots.extend(root_requirements(source.parent / line[3:].strip()))
        elif line and not line.startswith("-"):
            roots.append(Requirement(line))
    return roots


def _active(requirement: Requirement, extra: str) -> bool:
    if requirement.marker is None:
        return True
    return Marker(str(requirement.marker)).evaluate({"extra": extra})


def missing_dependencies(
    pins: Mapping[str, str], roots: Iterable[Requirement], requires: Mapping[str, list[Requirement]]
) -> list[Missing]:
    """Walk the dependency graph from the roots and return what the pins lack.

    `requires` maps a canonical name to its declared requirements (all extras included, with their
    markers); the walk follows only what is active for this interpreter and the requested extras.
    """
    needed_by: dict[str, set[str]] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(req, "the .in file") for req in roots]
    while todo:
        requirement, parent = todo.pop()
        name = canonicalize_name(requirement.name)
        if name not in pins:
            needed_by.setdefault(name, set()).add(parent)
            continue
        for extra in ("", *sorted(requirement.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            label = f"{requirement.name}=={pins[name]}"
            todo.extend((dep, label) for dep in requires.get(name, []) if _active(dep, extra))
    return [Missing(name, tuple(sorted(parents))) for name, parents in sorted(needed_by.items())]


def installed_requirements(site: list[str] | None) -> dict[str, list[Requirement]]:
    """Return the declared requirements of the distributions installed in `site` (default: here)."""
    found = metadata.distributions(path=site) if site else metadata.distributions()
    return {
        canonicalize_name(dist.metadata["Name"]): [Requirement(text) for text in dist.requires or []] for dist in found
    }


def installed_versions(site: list[str] | None) -> dict[str, str]:
    """Return {canonical name: version} of the distributions installed in `site` (default: here)."""
    found = metadata.distributions(path=site) if site else metadata.distributions()
    return {canonicalize_name(dist.metadata["Name"]): dist.version for dist in found}


def unjudged(pins: Mapping[str, str], installed: Mapping[str, str]) -> list[str]:
    """Locked packages whose metadata is not the locked version's: the walk cannot judge them."""
    return [
        f"{name}=={version} is installed as {installed.get(name, 'nothing')}"
        for name, version in sorted(pins.items())
        if installed.get(name) != version
    ]


def check(lock: Path, source: Path, site: list[str] | None = None) -> list[Missing]:
    """Return what `lock` lacks for the requirements of `source`, judged by installed metadata.

    Raises ValueError when the inspected environment does not hold exactly the locked versions:
    judged by other metadata (or none), a missing dependency would pass unseen.
    """
    pins = locked_versions(lock.read_text())
    mismatched = unjudged(pins, installed_versions(site))
    if mismatched:
        raise ValueError(f"{lock}: cannot judge against this environment: {'; '.join(mismatched)}")
    return missing_dependencies(pins, root_requirements(source), installed_requirements(site))


def main(argv: list[str] | None = None) -> int:
    """Check `LOCK=SOURCE` pairs; print each missing dependency and exit 1 when there is any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="LOCK=SOURCE")
    parser.add_argument("--site", help="site-packages of the venv installed from the lock (default: this one)")
    args = parser.parse_args(argv)
    site = [args.site] if args.site else None
    failed = False
    for pair in args.pairs:
        lock, source = (Path(part) for part in pair.split("=", 1))
        try:
            missing = check(lock, source, site)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
        for item in missing:
            failed = True
            print(f"{lock}: incomplete lock, missing {item}; re-run `make lock`", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
