"""Container HEALTHCHECK: web answers liveness, the consumer serves metrics; other roles are alive if running."""

import os
import sys
import urllib.request

TARGETS = {
    "web": f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}/health/liveness",
    "consumer": f"http://127.0.0.1:{os.environ.get('CONSUMER_METRICS_PORT', '9090')}/metrics",
}


def main() -> int:
    url = TARGETS.get(os.environ.get("DM_ROLE", "web"))
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 (loopback URL built above)
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
