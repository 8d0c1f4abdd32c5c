#!/usr/bin/python3
"""Stand-in for the busybox `wget` of the Prometheus images, as their healthchecks call it.

Only `wget -q -O /dev/null URL` (or `--spider`): exit 0 when URL answers 2xx, 1 otherwise.
"""

import sys
import urllib.request


def main(argv: list[str]) -> int:
    """Fetch the last argument; the exit status says whether it answered 2xx."""
    try:
        with urllib.request.urlopen(argv[-1], timeout=5) as response:  # noqa: S310 - the healthcheck's own URL
            return 0 if 200 <= response.status < 300 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
