"""What one newscrawl process costs: a one-site crawl and a bare command, against a baseline.

    python bench/process_startup.py [--baseline REF] [--runs 5]

Every crawl the service schedules, and every test of the suite, is a new process (and an
extraction worker, and multiprocessing's resource tracker), so start-up is most of what a
small crawl costs. In the same run, interleaved, this measures the CPU-seconds (user +
system, all the process's children included, from `getrusage`) of:

1. `newscrawl crawl valley-gazette` of the local news network (crawler.localnet) into a
   fresh database of an embedded secantusdb, one extraction worker;
2. `newscrawl --help` (the imports every command pays);

for the checkout and for the code at `--baseline` (a git revision, default `HEAD~1`,
unpacked with `git archive` into a temporary folder, run with the same interpreter and
dependencies; both trees byte-compiled first, as an installed package is). It prints the medians and every run: the machine's load moves single
runs by 0.2-0.5 CPU-s, so compare the medians of one run, never figures of two runs.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = ("crawler", "spiders", "scheduler.py", "scrapy.cfg")


def unpack(ref: str, into: Path) -> Path:
    """The project's code at `ref`, as files (git archive), in `into`."""
    archive = subprocess.run(
        ["git", "archive", ref, *TREE], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def child_cpu(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU-seconds of `command` and every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline", default="HEAD~1", help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args()

    from crawler.localnet import LocalNetwork
    from crawler.store.embedded import EmbeddedServer

    work = Path(tempfile.mkdtemp(prefix="newscrawl-startup-"))
    trees = {
        f"baseline {args.baseline}": unpack(args.baseline, work / "baseline"),
        "this checkout": REPO,
    }
    for tree in trees.values():  # as pip leaves an installed package
        for folder in ("crawler", "spiders"):
            compileall.compile_dir(tree / folder, quiet=1)
    server = EmbeddedServer(work / "mongo")
    uri = server.start()
    figures: dict[tuple[str, str], list[float]] = {}
    try:
        with LocalNetwork(seed=5, hostile=False) as net:
            config = net.write_config(work / "sites.yaml")
            for run in range(args.runs):
                for n, (label, tree) in enumerate(trees.items()):
                    env = dict(
                        os.environ,
                        MONGODB_URI=uri,
                        NEWSCRAWL_DB=f"startup_{run}_{n}",
                        NEWSCRAWL_EXTRACT_WORKERS="1",
                        XDG_DATA_HOME=str(work / "xdg"),
                        PYTHONPATH=str(tree),  # `import crawler` finds this tree first
                    )
                    crawl = [sys.executable, "-m", "crawler", "crawl", "valley-gazette"]
                    crawl += ["--config", str(config)]
                    figures.setdefault((label, "crawl"), []).append(child_cpu(crawl, env, tree))
                    bare = [sys.executable, "-m", "crawler", "--help"]
                    figures.setdefault((label, "--help"), []).append(child_cpu(bare, env, tree))
    finally:
        server.stop()
    load = os.getloadavg()[0]
    print(f"CPU-seconds per process, {args.runs} runs each, interleaved (load {load:.1f})")
    for (label, what), values in figures.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"  {label:28s} {what:8s} median {statistics.median(values):5.2f}   ({runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
