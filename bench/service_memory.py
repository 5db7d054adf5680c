"""The service's memory over many crawls: RSS of `python scheduler.py` after 10 and
after 200 crawls of the local news network (crawls run in child processes, so the
service itself should stay flat).

    python bench/service_memory.py [--crawls 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from crawler.localnet import LocalNetwork
from crawler.store import connect
from crawler.store.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=200)
    parser.add_argument("--baseline-at", type=int, default=10)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedServer(Path(tmp) / "mongo") as server,
        LocalNetwork(hostile=False) as net,
    ):
        data = net.config()
        for site in data["sites"]:
            site["schedule"] = {"every": "1s", "jitter": "0s"}
        config = Path(tmp) / "sites.yaml"
        config.write_text(yaml.safe_dump(data))
        env = dict(
            os.environ,
            MONGODB_URI=server.uri,
            NEWSCRAWL_DB="bench_memory",
            NEWSCRAWL_JOURNAL=str(Path(tmp) / "journal"),
        )
        db = connect(server.uri, "bench_memory")
        service = subprocess.Popen(
            [sys.executable, "scheduler.py", "--config", str(config), "--log-level", "WARNING"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        marks: dict[int, int] = {}
        started = time.monotonic()
        try:
            while len(marks) < 2 and time.monotonic() - started < 3600:
                done = db.crawl_runs.count_documents({"finished_at": {"$ne": None}})
                for target in (args.baseline_at, args.crawls):
                    if done >= target and target not in marks:
                        marks[target] = rss_kib(service.pid)
                        print(
                            f"after {done:4d} crawls ({time.monotonic() - started:6.0f}s): service RSS {marks[target] / 1024:.1f} MiB",
                            flush=True,
                        )
                time.sleep(0.5)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(120)
    if len(marks) == 2:
        base, end = marks[args.baseline_at], marks[args.crawls]
        print(
            f"RSS after {args.crawls} / after {args.baseline_at}: {end / base:.3f} ({(end - base) / 1024:+.1f} MiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
