"""End-to-end throughput: the whole pipeline against trafilatura alone and a bare Scrapy spider.

    python bench/e2e_throughput.py [--copies 11] [--corpus DIR]

Serves the real pages of the Zyte extraction benchmark (../shared/corpora/
extraction-zyte) from a local HTTP server in its own process, each page under
`--copies` distinct URLs (181 x 11 = 1,991 pages), listed in one sitemap. In
the same run it measures, on this machine:

1. trafilatura alone: `trafilatura.extract` over the same pages from memory,
   in this one process (the cost we cannot avoid), before and after the other
   two; the reference rate is the mean of both (this machine's speed drifts);
2. a bare Scrapy spider fetching every page and doing nothing with it;
3. `newscrawl crawl` of the site into a fresh database of the test MongoDB
   (an embedded secantusdb unless MONGODB_URI is set), politeness off for
   that site.

It prints the three rates, their ratios, and the share of the pipeline's time
spent in each stage, read from the run record (`crawl_runs.stages`). Skips
(exit 0, message) when the corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crawler.service.httpd import QuietHandler

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "extraction-zyte"
SITE = "zyte-bench"
ARTICLE_OUTCOMES = ("new", "changed", "unchanged", "cosmetic", "degraded", "errors")


def load_pages(corpus: Path) -> dict[str, bytes]:
    truth = json.loads((corpus / "ground-truth.json").read_text())
    pages = {}
    for page_id in sorted(truth):
        path = corpus / "html" / f"{page_id}.html.gz"
        if path.exists():
            pages[page_id] = gzip.decompress(path.read_bytes())
    return pages


def page_paths(pages: dict[str, bytes], copies: int) -> list[str]:
    return [f"/c{copy}/{page_id}.html" for copy in range(copies) for page_id in pages]


# -- the local site ---------------------------------------------------------------------------


def serve(corpus: Path, copies: int, port_file: Path) -> None:
    """Child process: serve the pages, a sitemap of them and an allow-all robots.txt."""
    pages = load_pages(corpus)
    paths = page_paths(pages, copies)
    state: dict[str, Any] = {}

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Scrapy's downloader uses it

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            elif self.path == "/sitemap.xml":
                body, kind = state["sitemap"], "application/xml"
            else:
                page_id = self.path.rsplit("/", 1)[-1].removesuffix(".html")
                if page_id not in pages:
                    self.send_error(404)
                    return
                body, kind = pages[page_id], "text/html; charset=utf-8"
            self.send_body(200, kind, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    state["sitemap"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "".join(f"<url><loc>{base}{p}</loc></url>\n" for p in paths)
        + "</urlset>\n"
    ).encode()
    port_file.write_text(base)
    server.serve_forever()


def start_site(corpus: Path, copies: int, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = tmp / "site-url"
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port_file), "--corpus", str(corpus)]
        + ["--copies", str(copies)]
    )
    for _ in range(600):
        if port_file.exists() and port_file.read_text():
            return child, port_file.read_text()
        time.sleep(0.05)
    child.kill()
    raise RuntimeError("the bench site did not start")


# -- 1. trafilatura alone ---------------------------------------------------------------------


def trafilatura_alone(pages: dict[str, bytes], copies: int) -> float:
    import trafilatura

    bodies = list(pages.values())
    for body in bodies[:10]:
        trafilatura.extract(body)  # warm the caches as a running crawl has them
    start = time.perf_counter()
    for _ in range(copies):
        for body in bodies:
            trafilatura.extract(body)
    return len(bodies) * copies / (time.perf_counter() - start)


# -- 2. a bare Scrapy spider ----------------------------------------------------------------


def bare_spider(base: str, out: Path) -> None:
    """Child process: fetch every page of the sitemap and throw it away."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiders import SitemapSpider

    class Bare(SitemapSpider):
        name = "bare"
        sitemap_urls = [f"{base}/sitemap.xml"]

        def parse(self, response: scrapy.http.Response) -> None:
            self.crawler.stats.inc_value("bare/pages")

    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": True,
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(Bare)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    out.write_text(
        json.dumps({"pages": stats.get("bare/pages", 0), "seconds": stats["elapsed_time_seconds"]})
    )


def run_bare_spider(base: str, tmp: Path) -> tuple[int, float]:
    out = tmp / "bare.json"
    subprocess.run([sys.executable, __file__, "--bare", base, str(out)], check=True)
    result = json.loads(out.read_text())
    return int(result["pages"]), float(result["seconds"])


# -- 3. the pipeline --------------------------------------------------------------------------


def write_config(base: str, path: Path) -> Path:
    host = base.removeprefix("http://")
    path.write_text(
        f"""sites:
  - name: {SITE}
    url: {base}/
    sitemaps: ["{base}/sitemap.xml"]
    allowed_domains: ["{host}"]
    allow_private_addresses: true
    max_articles: 100000
    max_age: 3650d
    crawl_timeout: 2h
    politeness: {{delay: 0, concurrency: 16, autothrottle: false}}
"""
    )
    return path


class CpuMeter:
    """CPU seconds used by process trees while a crawl runs (polled: workers come and go)."""

    def __init__(self, roots: dict[str, int], split: tuple[str, ...] = ()):
        import psutil

        self.psutil = psutil
        self.roots = roots
        self.split = split  # these roots are reported as "<name>" and "<name>: child processes"
        names = [*roots, *(f"{name}: child processes" for name in split)]
        self.seen: dict[str, dict[int, float]] = {name: {} for name in names}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stop.wait(0.2):
            for name, pid in self.roots.items():
                try:
                    root = self.psutil.Process(pid)
                    for proc in [root, *root.children(recursive=True)]:
                        times = proc.cpu_times()
                        key = name
                        if name in self.split and proc.pid != pid:
                            key = f"{name}: child processes"
                        self.seen[key][proc.pid] = times.user + times.system
                except self.psutil.Error:
                    continue

    def __enter__(self) -> CpuMeter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def totals(self) -> dict[str, float]:
        return {name: sum(pids.values()) for name, pids in self.seen.items()}


def run_pipeline(
    base: str, tmp: Path, uri: str, db_name: str, cpu_roots: dict[str, int]
) -> dict[str, Any]:
    from crawler.store import connect

    config = write_config(base, tmp / "sites.yaml")
    env = dict(
        os.environ, MONGODB_URI=uri, NEWSCRAWL_DB=db_name, NEWSCRAWL_JOURNAL=str(tmp / "journal")
    )
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", SITE, "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with CpuMeter({"crawler": crawl.pid, **cpu_roots}, split=("crawler",)) as meter:
        if crawl.wait() != 0:
            raise RuntimeError(f"the crawl exited {crawl.returncode}")
    db = connect(uri, db_name)
    run = db.crawl_runs.find_one({"site": SITE}, sort=[("started_at", -1)])
    assert run is not None, "the crawl left no run record"
    run["versions"] = db.versions.count_documents({})
    run["stories"] = db.stories.count_documents({})
    run["cpu"] = meter.totals()
    db.client.drop_database(db_name)
    return run


# -- report -----------------------------------------------------------------------------------


def report(
    n_pages: int, tf_rates: list[float], bare: tuple[int, float], run: dict[str, Any]
) -> None:
    """The reference is trafilatura's mean rate, measured before and after the other two."""
    tf_rate = sum(tf_rates) / len(tf_rates)
    bare_rate = bare[0] / bare[1]
    summary = run["summary"]
    stored = summary.get("new", 0) + summary.get("changed", 0)
    articles = sum(summary.get(k, 0) for k in ARTICLE_OUTCOMES)
    pipe_rate = articles / run["duration_s"]
    print(f"\n{n_pages} pages; this machine has {os.cpu_count()} cores")
    print(f"{'':34s} {'pages/s':>8s} {'x trafilatura':>14s}")
    runs = " / ".join(f"{rate:.1f}" for rate in tf_rates)
    print(f"{'trafilatura alone (1 process)':34s} {tf_rate:8.1f} {1.0:14.2f}   (runs: {runs})")
    print(f"{'bare Scrapy spider':34s} {bare_rate:8.1f} {bare_rate / tf_rate:14.2f}")
    print(f"{'newscrawl pipeline':34s} {pipe_rate:8.1f} {pipe_rate / tf_rate:14.2f}")
    print(
        f"pipeline: {articles} article pages in {run['duration_s']:.1f} s, "
        f"{stored} stored as new/changed, {run['versions']} versions, {run['stories']} stories, "
        f"outcome {run['outcome']}"
    )
    articles_n = max(1, articles)
    print("CPU per article page, by process (ms):")
    for name, seconds in run.get("cpu", {}).items():
        print(f"  {name:30s} {1000 * seconds / articles_n:7.1f}")
    print(f"  {'(trafilatura alone)':30s} {1000 / tf_rate:7.1f}")
    stages = run.get("stages") or {}
    total = sum(stages.values())
    if total:
        print("share of pipeline time by stage (seconds summed over workers and threads):")
        for name, seconds in stages.items():
            print(f"  {name:10s} {seconds:8.2f} s {seconds / total:7.1%}")
    else:
        print("(this pipeline records no stage timings)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=11)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--skip-trafilatura", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.corpus, args.copies, args.serve)
        return 0
    if args.bare:
        bare_spider(args.bare[0], Path(args.bare[1]))
        return 0
    if not (args.corpus / "ground-truth.json").exists():
        print(f"corpus not found at {args.corpus}; skipping")
        return 0
    from crawler.store.embedded import EmbeddedServer

    pages = load_pages(args.corpus)
    n_pages = len(pages) * args.copies
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site, base = start_site(args.corpus, args.copies, tmp)
        try:
            print(f"serving {n_pages} pages at {base}")
            tf_rates = [] if args.skip_trafilatura else [trafilatura_alone(pages, args.copies)]
            print(f"trafilatura alone: {tf_rates[0] if tf_rates else 0:.1f} pages/s")
            bare = run_bare_spider(base, tmp)
            print(f"bare Scrapy: {bare[0]} pages in {bare[1]:.1f} s")
            uri = os.environ.get("MONGODB_URI")
            roots = {"local web server": site.pid}
            if uri:
                run = run_pipeline(base, tmp, uri, "bench_e2e", roots)
            else:
                with EmbeddedServer(tmp / "mongo") as server:
                    assert server.process is not None
                    roots["MongoDB server (secantusdb)"] = server.process.pid
                    run = run_pipeline(base, tmp, server.uri, "bench_e2e", roots)
            if tf_rates:  # again: this machine's speed drifts by a third within minutes
                tf_rates.append(trafilatura_alone(pages, args.copies))
                print(f"trafilatura alone, after the crawl: {tf_rates[1]:.1f} pages/s")
        finally:
            site.kill()
    report(n_pages, tf_rates or [1.0], bare, run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
