"""Stand-in for Cloudflare's DNS API in lego's DNS-01 step (lego's `exec` provider calls it).

lego 4.9.1's `cloudflare` provider talks to api.cloudflare.com only: its base URL cannot be set
(providers/dns/cloudflare builds a cloudflare-go client without `BaseURL`; `lego dnshelp -c
cloudflare` lists no URL variable). So the live tests swap `--dns cloudflare` for `--dns exec`
with this program, which does what the provider does in the zone: `present FQDN VALUE` adds the
TXT record, `cleanup FQDN VALUE` removes it, here in pebble-challtestsrv (the DNS Pebble asks).

It also checks what the real provider would: the token the stack gave lego (in lego's
environment, `CLOUDFLARE_DNS_API_TOKEN`) must be the expected one, and a name outside the zone is
refused. With the file named by STANDIN_REFUSE_FILE present it refuses every edit, as Cloudflare
does for a revoked token.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from tests.live.acme_servers import CHALLTESTSRV_URL


def main(argv: list[str]) -> int:
    """`present|cleanup FQDN VALUE`; exit 0 on success, 1 (with a message) on a refusal."""
    action, fqdn, value = argv[1], argv[2], argv[3]
    zone = os.environ["STANDIN_ZONE"]
    refuse_file = os.environ.get("STANDIN_REFUSE_FILE", "")
    if refuse_file and os.path.exists(refuse_file):
        print("cloudflare stand-in: 403 Authentication error (10000): the token may not edit DNS", file=sys.stderr)
        return 1
    if os.environ.get("CLOUDFLARE_DNS_API_TOKEN") != os.environ["STANDIN_EXPECTED_TOKEN"]:
        print("cloudflare stand-in: 403 Invalid API Token", file=sys.stderr)
        return 1
    if not fqdn.rstrip(".").endswith("." + zone):
        print(f"cloudflare stand-in: {fqdn} is not in the token's zone {zone}", file=sys.stderr)
        return 1
    if action == "present":
        _post("/set-txt", {"host": fqdn, "value": value})
    elif action == "cleanup":
        _post("/clear-txt", {"host": fqdn})
    return 0


def _post(path: str, payload: dict[str, str]) -> None:
    request = urllib.request.Request(  # noqa: S310 - challtestsrv on loopback
        CHALLTESTSRV_URL + path, data=json.dumps(payload).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


if __name__ == "__main__":
    sys.exit(main(sys.argv))
