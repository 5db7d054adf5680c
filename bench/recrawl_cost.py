"""Cost of revisits: bytes and requests of a re-crawl of an unchanged local network
against the first crawl of it (target: at most 5 % of the bytes).

    python bench/recrawl_cost.py

Starts the local news network (four regional sites) and an embedded store,
crawls every site twice with the real command line, and prints both crawls'
traffic as the sites' servers counted it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from crawler.localnet import LocalNetwork
from crawler.store.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[1]
SITES = ["valley-gazette", "harbour-times", "prairie-post", "lakeside-herald"]


def crawl(config: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", *SITES, "--config", str(config)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedServer(Path(tmp) / "mongo") as server,
        LocalNetwork(hostile=False) as net,
    ):
        env = dict(
            os.environ,
            MONGODB_URI=server.uri,
            NEWSCRAWL_DB="bench_recrawl",
            NEWSCRAWL_JOURNAL=str(Path(tmp) / "journal"),
        )
        config = net.write_config(Path(tmp) / "sites.yaml")
        crawl(config, env)
        first = net.traffic.totals()
        net.traffic.reset()
        crawl(config, env)
        again = net.traffic.totals()
        statuses = dict(net.traffic.statuses)
    print(f"{'':22s} {'requests':>9s} {'bytes':>10s}")
    print(f"{'first crawl':22s} {first[0]:9d} {first[1]:10d}")
    print(f"{'re-crawl, unchanged':22s} {again[0]:9d} {again[1]:10d}")
    print(
        f"re-crawl / first: requests {again[0] / first[0]:.1%}, bytes {again[1] / first[1]:.1%} (target <= 5 % of bytes)"
    )
    print(f"re-crawl statuses: {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
