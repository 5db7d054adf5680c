"""Fault injection: crawls killed at random moments and MongoDB restarted mid-crawl lose nothing.

    python bench/chaos.py [--crawls 30] [--seed 1]

On the local news network it first makes one clean crawl into a reference
database, then runs --crawls crawls into another database on the same
secantusdb server (started here, so it can be stopped and restarted), each
with one fault, drawn at random:

- kill-fetch:   SIGKILL of the crawl's process group while it fetches;
- kill-write:   SIGKILL right after a write batch landed (an article was stored or
                touched), so the
                next batch is caught half-way between its writes;
- kill-replay:  SIGKILL of a crawl while it replays the journal (as soon as it
                has claimed a journal file); made after a restart left a journal;
- restart:      MongoDB stopped mid-crawl and started again 2-15 s later (short
                outages are absorbed by retries, longer ones fill the journal);
- none:         a crawl left alone.

Then the named extra faults (--extra, default all; each a function of its own that
prints what it lost and how many crawls failed because of another site, both must be 0):

- big-sitemap:  a site whose sitemap index lists itself and a 50,000-URL sitemap
                without lastmod, crawled (`crawl --all`, twice) beside the normal
                sites: each source fetched once, the skipped entries a few fetches rows,
                the normal sites' crawls unharmed;
- full-journal: MongoDB stopped mid-crawl while the journal fills up (the crawl
                process runs with RLIMIT_FSIZE 2 KB: a journal write past it fails
                with EFBIG, as on a full disk): the crawl must end `error` and exit non-zero,
                each page it fetched must be stored or named in `fetches`, and the
                next crawl of another site must succeed;
- concurrent-crawl-all: three `crawl --all --recheck` at once: no site crawled by two
                at the same time, the others `skipped-busy`, nothing lost;
- skewed-clock: while a crawl runs, a process whose clock is 3 minutes ahead tries
                to take the site's lease and marks abandoned runs: it must take no
                live lease and end no live run.

After each extra fault, runs left `running` without a live lease are counted (must be 0).

Then one final clean crawl, `newscrawl verify`, and a comparison with the
reference: every article and every version of the clean crawl must be there,
no version twice. It prints the figures and exits 1 if any must-be-zero figure
is not.

    python bench/chaos.py --service-faults [store-starter-ends] [config-reloads]

runs the service's faults instead, each watched for a minute:

- store-starter-ends: no MONGODB_URI; a manual crawl starts the embedded store,
                the service joins it, the crawl ends (once finishing, once by
                SIGKILL); the service's crawls after that and /healthz are counted;
- config-reloads: the config reloaded every 3 s (file edits and SIGHUP in turn),
                against a baseline minute without reloads in the same service run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.localnet import LocalNetwork  # noqa: E402
from crawler.localnet.sitemaps import SitemapSite, sitemap_index, urlset  # noqa: E402
from crawler.store import connect  # noqa: E402
from crawler.store.embedded import EmbeddedServer, free_port  # noqa: E402

FAULTS = ["kill-fetch", "kill-write", "kill-replay", "restart", "none"]
WEIGHTS = [7, 8, 5, 5, 5]
CRAWL_TIMEOUT_S = 180


class Chaos:
    def __init__(
        self, uri: str, server: EmbeddedServer, config: Path, tmp: Path, rng: random.Random
    ):
        self.server = server
        self.config = config
        self.rng = rng
        self.journal = tmp / "journal"
        self.env = dict(
            os.environ,
            MONGODB_URI=uri,
            NEWSCRAWL_DB="chaos",
            NEWSCRAWL_JOURNAL=str(self.journal),
            NEWSCRAWL_MONGO_TIMEOUT_MS="1500",
        )
        self.db = connect(uri, "chaos", timeout_ms=1500)
        self.tally: Counter[str] = Counter()

    def crawl(
        self, sites: list[str], recheck: bool, config: Path | None = None
    ) -> subprocess.Popen[bytes]:
        args = [
            sys.executable, "-m", "crawler", "crawl", *sites, "--config", str(config or self.config)
        ]  # fmt: skip
        if recheck:
            args.append("--recheck")
        return subprocess.Popen(
            args,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self, crawl: subprocess.Popen[bytes]) -> None:
        if crawl.poll() is None:
            os.killpg(crawl.pid, signal.SIGKILL)
            self.tally["crawls killed"] += 1
        crawl.wait()

    def wait(self, crawl: subprocess.Popen[bytes]) -> None:
        try:
            crawl.wait(CRAWL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill(crawl)
            self.tally["crawls that hung (killed)"] += 1

    def _written_since(self, since: datetime) -> bool:
        """A write batch of this crawl landed: an article was stored or touched since."""
        return self.db.articles.find_one({"last_fetched": {"$gt": since}}, {"_id": 1}) is not None

    def _poll(self, done, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if done():
                    return True
            except Exception:  # the server may be restarting
                pass
            time.sleep(0.01)
        return False

    def run(self, fault: str, sites: list[str], recheck: bool, outage_s: float = 0.0) -> None:
        self.tally[f"fault {fault}"] += 1
        if fault == "kill-replay" and not list(self.journal.glob("journal-*")):
            # a journal to replay first: an outage longer than the writes' retries (~10 s)
            self.run("restart", sites, recheck, outage_s=14.0)
        if fault in ("kill-write", "restart"):
            # the network does not change: only a re-fetch of every article writes batches
            recheck = True
        since = datetime.now(timezone.utc)
        crawl = self.crawl(sites, recheck)
        if fault == "kill-fetch":
            self._poll(lambda: self.db.leases.count_documents({}) > 0, 30)
            time.sleep(self.rng.uniform(0.0, 2.0))
            self.kill(crawl)
        elif fault == "kill-write":
            landed = self._poll(lambda: self._written_since(since), 30)
            time.sleep(self.rng.uniform(0.0, 0.3))
            self.kill(crawl)
            self.tally["kills right after a batch"] += landed
        elif fault == "kill-replay":
            claimed = self._poll(lambda: any(self.journal.glob("*.replaying-*")), 30)
            self.kill(crawl)
            self.tally["kills during journal replay"] += claimed
        elif fault == "restart":
            # once articles are being written: earlier, the spider's own look-ups stall
            # the crawl until MongoDB is back (issue 14), and nothing reaches the journal
            self._poll(lambda: self._written_since(since), 30)
            time.sleep(self.rng.uniform(0.0, 1.0))
            self.server.stop()
            # short outages are absorbed by the write retries (~10 s of backoff);
            # longer ones send pages to the journal
            time.sleep(outage_s or self.rng.uniform(2.0, 15.0))
            self.server.start()
            self.tally["server restarts"] += 1
            self.wait(crawl)
            spooled = len(list(self.journal.glob("journal-*")))
            self.tally["restarts that left a journal"] += spooled > 0
        else:
            self.wait(crawl)


# -- extra faults (one function each; each returns its figures) ---------------------------

OK_OUTCOMES = ("ok", "ok-with-errors")
BIG_SITEMAP_URLS = 50_000
JOURNAL_ROOM = 2048  # bytes a crawl process may write to one file in full-journal: no page fits


def _runs_since(chaos: Chaos, since: datetime) -> list[dict]:
    return list(chaos.db.crawl_runs.find({"started_at": {"$gte": since}}))


def _unaccounted(chaos: Chaos, runs: list[dict]) -> int:
    """Article pages of these runs that ended in no stored outcome, no fetches row with an
    error, and no journal line: lost without a trace."""
    article_outcomes = [
        "new", "changed", "unchanged", "cosmetic", "reverted", "degraded", "error", "spooled"
    ]  # fmt: skip
    lost = 0
    for run in runs:
        fetched = (run.get("counters") or {}).get("article/fetched", 0)
        rows = chaos.db.fetches.count_documents(
            {
                "run_id": run["_id"],
                "outcome": {"$in": article_outcomes},
                "reason": {"$ne": "journal"},
            }
        )
        lost += max(0, fetched - rows)
    return lost


def fault_big_sitemap(chaos: Chaos, net: LocalNetwork, tmp: Path) -> dict[str, object]:
    """A 50,000-URL sitemap (no lastmod) behind an index that lists itself, beside the
    normal sites, crawled twice with `crawl --all`."""
    since = datetime.now(timezone.utc)
    with SitemapSite() as big:
        big.documents["/sitemap-index.xml"] = sitemap_index(
            [big.url("/sitemap-index.xml"), big.url("/big.xml")]
        )
        big.documents["/big.xml"] = urlset(
            [big.url(f"/news/2026/item-{i}-of-the-archive") for i in range(BIG_SITEMAP_URLS)]
        )
        data = net.config(delay=0.5)
        data["sites"].append(
            big.site_config("big-sitemap", ["/sitemap-index.xml"], max_articles=20)
        )
        config = tmp / "sites-big.yaml"
        config.write_text(yaml.safe_dump(data))
        started = time.monotonic()
        exits = []
        for _round in range(2):
            crawl = chaos.crawl(["--all"], recheck=False, config=config)
            chaos.wait(crawl)
            exits.append(crawl.returncode)
        seconds = time.monotonic() - started
        hits = dict(big.hits)
    runs = _runs_since(chaos, since)
    big_runs = [r for r in runs if r["site"] == "big-sitemap"]
    others = [r for r in runs if r["site"] != "big-sitemap"]
    rows = sum(chaos.db.fetches.count_documents({"run_id": r["_id"]}) for r in big_runs)
    peak = max(((r.get("scrapy_stats") or {}).get("memusage/max", 0) for r in big_runs), default=0)
    return {
        "crawls (rounds x sites)": len(runs),
        "big site's outcomes": ", ".join(r["outcome"] for r in big_runs),
        "big index fetches (2 crawls)": hits.get("/sitemap-index.xml", 0),
        "big sitemap fetches (2 crawls)": hits.get("/big.xml", 0),
        "big site's fetches rows per crawl": round(rows / max(1, len(big_runs)), 1),
        "big site's entries skipped per crawl": round(
            sum((r.get("summary") or {}).get("skipped", 0) for r in big_runs)
            / max(1, len(big_runs))
        ),
        "crawl process peak RSS (MB)": round(peak / 2**20),
        "seconds for 2 rounds": round(seconds, 1),
        "crawl exit codes": " ".join(map(str, exits)),
        "lost (must be 0)": _unaccounted(chaos, runs),
        "crawls failed because of another site (must be 0)": sum(
            r["outcome"] not in OK_OUTCOMES for r in others
        ),
    }


def fault_full_journal(chaos: Chaos, net: LocalNetwork, tmp: Path) -> dict[str, object]:
    """MongoDB stopped mid-crawl while the crawl process's journal fills up (RLIMIT_FSIZE
    2 KB: a write past it fails with EFBIG, as a full disk fails it; 0 would also stop
    multiprocessing's semaphores, which are files, and with them the extraction pool)."""
    import resource

    names = sorted(net.world.sites)
    victim, other = names[0], names[1]
    since = datetime.now(timezone.utc)

    def no_room() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_FSIZE, (JOURNAL_ROOM, resource.RLIM_INFINITY))

    crawl = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler",
            "crawl",
            victim,
            "--recheck",
            "--config",
            str(chaos.config),
        ],
        cwd=REPO,
        env=chaos.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=no_room,
    )
    chaos._poll(lambda: chaos._written_since(since), 60)
    chaos.server.stop()
    time.sleep(15.0)  # longer than the writes' retries: pages would go to the journal
    chaos.server.start()
    try:
        _out, err = crawl.communicate(timeout=CRAWL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        chaos.kill(crawl)
        _out, err = crawl.communicate()
    after = datetime.now(timezone.utc)
    follow = chaos.crawl([other], recheck=False)
    chaos.wait(follow)
    runs = _runs_since(chaos, since)
    victim_runs = [r for r in runs if r["site"] == victim]
    other_runs = [r for r in runs if r["site"] == other and r["started_at"] >= after]
    named = chaos.db.fetches.count_documents(
        {
            "run_id": {"$in": [r["_id"] for r in victim_runs]},
            "detail": {"$regex": "neither stored nor journalled"},
        }
    )
    spooled = chaos.db.fetches.count_documents(
        {"run_id": {"$in": [r["_id"] for r in victim_runs]}, "outcome": "spooled"}
    )
    return {
        "crawl exit code (must not be 0)": crawl.returncode,
        "pages journalled before the journal was full": spooled,
        "outcome of the crawl": ", ".join(r["outcome"] for r in victim_runs) or "(not recorded)",
        "pages named in fetches as neither stored nor journalled": named,
        "pages named in the error log": err.count("page lost:"),
        "crawls reporting ok (must be 0)": sum(r["outcome"] in OK_OUTCOMES for r in victim_runs),
        "lost (must be 0)": _unaccounted(chaos, victim_runs),
        "crawls failed because of another site (must be 0)": sum(
            r["outcome"] not in OK_OUTCOMES for r in other_runs
        )
        + (not other_runs),
    }


def fault_concurrent_crawl_all(chaos: Chaos, net: LocalNetwork, tmp: Path) -> dict[str, object]:
    """Three `newscrawl crawl --all --recheck` started at once on the same sites: every
    site is crawled by one of them at a time (the others record `skipped-busy`)."""
    since = datetime.now(timezone.utc)
    crawls = [chaos.crawl(["--all"], recheck=True) for _ in range(3)]
    for crawl in crawls:
        chaos.wait(crawl)
    runs = _runs_since(chaos, since)
    crawled = [r for r in runs if r["outcome"] in OK_OUTCOMES]
    overlaps = 0
    for site in {r["site"] for r in crawled}:
        spans = sorted(
            (_aware(r["started_at"]), _aware(r.get("finished_at") or r["started_at"]))
            for r in crawled
            if r["site"] == site
        )
        overlaps += sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])
    return {
        "runs (3 processes x sites)": len(runs),
        "sites crawled": len({r["site"] for r in crawled}),
        "runs skipped-busy": sum(r["outcome"] == "skipped-busy" for r in runs),
        "two crawls of one site at once (must be 0)": overlaps,
        "exit codes": " ".join(str(c.returncode) for c in crawls),
        "lost (must be 0)": _unaccounted(chaos, runs),
        "crawls failed because of another site (must be 0)": sum(
            r["outcome"] not in (*OK_OUTCOMES, "skipped-busy") for r in runs
        ),
    }


def fault_skewed_clock(chaos: Chaos, net: LocalNetwork, tmp: Path) -> dict[str, object]:
    """A process whose clock runs 3 minutes ahead, while a crawl of a site runs: it tries to
    take the site's lease and to mark abandoned runs. Leases and abandoned-run judgements
    read the MongoDB server's clock, so it must take nothing and end nothing."""
    from datetime import timedelta

    from crawler.clock import utcnow
    from crawler.run.lease import LeaseHeld, SiteLease
    from crawler.run.runner import mark_abandoned_runs

    site = sorted(net.world.sites)[0]
    since = datetime.now(timezone.utc)
    crawl = chaos.crawl([site], recheck=True)
    held = chaos._poll(lambda: chaos.db.leases.find_one({"_id": site}) is not None, 60)
    taken = 0
    try:
        SiteLease(
            chaos.db, site, "skewed-process", clock=lambda: utcnow() + timedelta(minutes=3)
        ).acquire()
        taken = 1
    except LeaseHeld:
        pass
    mark_abandoned_runs(chaos.db)
    chaos.wait(crawl)
    runs = [r for r in _runs_since(chaos, since) if r["site"] == site]
    return {
        "the crawl held its lease when the skewed process tried": int(held),
        "live leases taken by the skewed process (must be 0)": taken,
        "live runs ended by the skewed process (must be 0)": sum(
            r["outcome"] in ("interrupted", "lease-lost") for r in runs
        ),
        "outcome of the crawl": ", ".join(r["outcome"] for r in runs),
        "lost (must be 0)": _unaccounted(chaos, runs),
    }


def _running_without_lease(chaos: Chaos) -> int:
    """Runs still `running` whose site has no live lease: a crawl that ended unrecorded."""
    from crawler.store.leases import running_crawls

    live = {doc.get("run_id") for doc in running_crawls(chaos.db).values()}
    return sum(
        1 for run in chaos.db.crawl_runs.find({"outcome": "running"}) if run["_id"] not in live
    )


EXTRA_FAULTS = {
    "big-sitemap": fault_big_sitemap,
    "full-journal": fault_full_journal,
    "concurrent-crawl-all": fault_concurrent_crawl_all,
    "skewed-clock": fault_skewed_clock,
}


def run_extra_faults(chaos: Chaos, net: LocalNetwork, tmp: Path, names: list[str]) -> int:
    """Run the named extra faults, print their figures; the number of must-be-zero
    figures that were not."""
    bad = 0
    for name in names:
        figures = EXTRA_FAULTS[name](chaos, net, tmp)
        figures["runs left running without a lease (must be 0)"] = _running_without_lease(chaos)
        print(f"\nfault {name}:")
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"  {key:<{width}}  {value}", flush=True)
        bad += sum(1 for k, v in figures.items() if "(must be 0)" in k and v)
        bad += sum(1 for k, v in figures.items() if "(must not be 0)" in k and not v)
    return bad


def crawl_clean(uri: str, db_name: str, config: Path, journal: Path, sites: list[str]) -> None:
    env = dict(os.environ, MONGODB_URI=uri, NEWSCRAWL_DB=db_name, NEWSCRAWL_JOURNAL=str(journal))
    subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", *sites, "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=CRAWL_TIMEOUT_S,
        check=False,
    )


def versions_of(db) -> Counter[tuple[str, str]]:
    return Counter(
        (v["article_id"], v["content_hash"])
        for v in db.versions.find({}, {"article_id": 1, "content_hash": 1})
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crawls", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--service-faults",
        nargs="*",
        metavar="FAULT",
        help="run the service faults instead (store-starter-ends, config-reloads; none: all)",
    )
    parser.add_argument(
        "--extra",
        default=",".join(EXTRA_FAULTS),
        help=f"extra faults to run after the random ones, comma-separated ({', '.join(EXTRA_FAULTS)}; '' for none)",
    )
    args = parser.parse_args()
    if args.service_faults is not None:
        return run_service_faults(args.seed, args.service_faults)
    extra = [name for name in args.extra.split(",") if name]
    rng = random.Random(args.seed)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        LocalNetwork(seed=args.seed, hostile=False, locals_per_site=8) as net,
    ):
        tmp = Path(tmp_name)
        server = EmbeddedServer(tmp / "mongo", port=free_port())
        uri = server.start()
        try:
            config = net.write_config(tmp / "sites.yaml", delay=0.5)
            names = sorted(net.world.sites)
            crawl_clean(uri, "chaos_clean", config, tmp / "journal-clean", ["--all"])
            chaos = Chaos(uri, server, config, tmp, rng)
            for i in range(args.crawls):
                fault = rng.choices(FAULTS, WEIGHTS)[0]
                sites = ["--all"] if rng.random() < 0.5 else rng.sample(names, rng.randint(1, 3))
                recheck = rng.random() < 0.25
                chaos.run(fault, sites, recheck)
                print(
                    f"crawl {i + 1:2}/{args.crawls}: {fault:<11} {' '.join(sites)}"
                    f"{' --recheck' if recheck else ''}",
                    flush=True,
                )
            extra_bad = run_extra_faults(chaos, net, tmp, extra)
            crawl_clean(uri, "chaos", config, chaos.journal, ["--all"])  # the final clean crawl
            verified = subprocess.run(
                [sys.executable, "-m", "crawler", "verify", "--json"],
                cwd=REPO,
                env=chaos.env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            report = json.loads(verified.stdout)
            clean_db, chaos_db = connect(uri, "chaos_clean"), connect(uri, "chaos")
            reference, found = versions_of(clean_db), versions_of(chaos_db)
            clean_articles = {a["_id"] for a in clean_db.articles.find({}, {"_id": 1})}
            chaos_articles = {a["_id"] for a in chaos_db.articles.find({}, {"_id": 1})}
            spooled = chaos_db.fetches.count_documents({"outcome": "spooled"})
            replayed = chaos_db.fetches.count_documents({"reason": "journal"})
            leftover = [p.name for p in chaos.journal.glob("journal-*")]
            failed = [p.name for p in chaos.journal.glob("failed-*")]
        finally:
            server.stop()
    figures = {
        "crawls": args.crawls,
        **dict(sorted(chaos.tally.items())),
        "pages spooled (recorded)": spooled,
        "pages replayed from the journal": replayed,
        "journal files left unreplayed": len(leftover),
        "journal lines kept as failed": len(failed),
        "articles (clean crawl)": len(clean_articles),
        "articles (after chaos)": len(chaos_articles),
        "versions (clean crawl)": sum(reference.values()),
        "versions (after chaos)": sum(found.values()),
        "invariant violations": len(report["violations"]),
        "articles missing against the clean crawl": len(clean_articles - chaos_articles),
        "versions missing against the clean crawl": len(set(reference) - set(found)),
        "duplicate versions": sum(n - 1 for n in found.values() if n > 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    for violation in report["violations"][:20]:
        print("  violation:", violation)
    must_be_zero = [
        "invariant violations",
        "articles missing against the clean crawl",
        "versions missing against the clean crawl",
        "duplicate versions",
        "journal files left unreplayed",
    ]
    return 1 if any(figures[k] for k in must_be_zero) or extra_bad else 0


# -- service faults (issue 29.4, 29.5, 29.9): python bench/chaos.py --service-faults -----------

SERVICE_WINDOW_S = 60.0  # how long the service is watched after each fault
RELOAD_EVERY_S = 3.0
STORE_ENV = ("MONGODB_URI", "NEWSCRAWL_DB", "NEWSCRAWL_DATA", "NEWSCRAWL_JOURNAL")


def _site_config(net: LocalNetwork, path: Path, names: list[str], every: str, **kw: float) -> Path:
    """A config of `names` only, each on `every` (jitter as configured, default 30 s)."""
    import yaml

    data = net.config(**kw)
    data["sites"] = [s for s in data["sites"] if s["name"] in names]
    for site in data["sites"]:
        site["schedule"] = {"every": every}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _start_service(config: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--config", str(config), "--metrics-port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop_service(service: subprocess.Popen[bytes]) -> int:
    service.send_signal(signal.SIGTERM)
    try:
        return service.wait(120)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
        return service.wait()


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""
    except OSError:
        return 0, ""


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _scheduled_runs(db, sites: list[str], since: datetime, until: datetime) -> list[dict]:
    """Scheduled runs of `sites` started in [since, until)."""
    runs = db.crawl_runs.find(
        {"site": {"$in": sites}, "trigger": "schedule", "started_at": {"$gte": since}}
    )
    return [r for r in runs if _aware(r["started_at"]) < until]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _failed(run: dict) -> bool:
    """A crawl that ended badly (a lease-busy skip is not a failure, one still running has
    not ended); each is printed with its error."""
    outcome = str(run.get("outcome"))
    bad = not (outcome.startswith("ok") or outcome in ("skipped-busy", "running"))
    if bad:
        print(f"  failed: {run['_id']} {outcome} {run.get('error') or ''}", flush=True)
    return bad


def fault_store_starter_ends(net: LocalNetwork, tmp: Path) -> dict[str, int]:
    """The embedded store's starter ends while the service uses it (issue 29.4).

    No MONGODB_URI: a manual crawl starts the embedded store, the service starts and
    joins it, then the manual crawl ends, once by finishing and once by SIGKILL. The
    service's scheduled crawls after that must all succeed, /healthz stay 200, and the
    store stop only when the service (its last holder) stops.
    """
    from crawler.store.embedded import ping, read_state

    data = tmp / "starter-data"
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    env.update(NEWSCRAWL_DATA=str(data), NEWSCRAWL_MONGO_TIMEOUT_MS="1500")
    names = sorted(net.world.sites)
    manual_site, service_sites = names[0], names[1:3]
    manual = _site_config(net, tmp / "starter-manual.yaml", [manual_site], "15m", delay=0.5)
    scheduled = _site_config(net, tmp / "starter-service.yaml", service_sites, "5s")
    tally: Counter[str] = Counter()
    for how in ("finishes", "is killed"):
        tally["rounds"] += 1
        crawl = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", manual_site, "--config", str(manual)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait(lambda: read_state(data / "mongo").get("state") == "running", 60)
        uri = str(read_state(data / "mongo").get("uri"))
        port = free_port()
        service = _start_service(scheduled, env, port)
        healthz = f"http://127.0.0.1:{port}/healthz"
        _wait(lambda url=healthz: _get(url)[0] == 200, 90)
        tally["starter still running when the service joined"] += crawl.poll() is None
        if how == "is killed":
            os.killpg(crawl.pid, signal.SIGKILL)
        try:
            crawl.wait(CRAWL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait()
        ended = datetime.now(timezone.utc)
        unhealthy = 0
        deadline = time.monotonic() + SERVICE_WINDOW_S
        while time.monotonic() < deadline:
            unhealthy += _get(f"http://127.0.0.1:{port}/healthz")[0] != 200
            time.sleep(1.0)
        tally["/healthz not 200 after the starter ended (1 s samples)"] += unhealthy
        tally["store up after the starter ended"] += ping(uri)
        db = connect(uri, "news", timeout_ms=1500)
        try:
            runs = _scheduled_runs(db, service_sites, ended, datetime.now(timezone.utc))
        except Exception:  # the store is gone: every crawl since failed
            runs = []
            tally["crawls failed because of it"] += 1
        finally:
            db.client.close()
        tally["scheduled crawls after the starter ended"] += len(runs)
        tally["crawls failed because of it"] += sum(_failed(r) for r in runs)
        tally["service exit status not 0"] += _stop_service(service) != 0
        stopped = not ping(uri, 500) and read_state(data / "mongo") == {}
        tally["store stopped with its last holder"] += stopped
    verified = subprocess.run(
        [sys.executable, "-m", "crawler", "verify", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    violations = json.loads(verified.stdout or '{"violations": [null]}')["violations"]
    tally["runs left running without a lease"] = sum(
        "lease" in str(v) and "running" in str(v) for v in violations
    )
    tally["invariant violations"] = len(violations)
    tally["lost: journal files left"] = len(list((data / "journal").glob("journal-*")))
    return dict(tally)


def fault_config_reloads(net: LocalNetwork, tmp: Path, uri: str) -> dict[str, int]:
    """The config reloaded every RELOAD_EVERY_S seconds (file edits and SIGHUP in turn) while
    the service runs (issue 29.5). Two sites keep their schedule (every 15s, default jitter
    30 s, capped to 1.5 s); a third's schedule changes at every reload. Against a baseline
    window without reloads in the same service run, the unchanged sites must be crawled as
    often, no crawl may fail, and /metrics' next run must stay within one interval."""
    names = sorted(net.world.sites)[:3]
    steady, changing = names[:2], names[2]
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    env.update(
        MONGODB_URI=uri,
        NEWSCRAWL_DB="chaos_reload",
        NEWSCRAWL_JOURNAL=str(tmp / "journal-reload"),
        NEWSCRAWL_MONGO_TIMEOUT_MS="1500",
    )
    config = tmp / "reload.yaml"

    def write(toggle: bool) -> None:
        _site_config(net, config, names, "15s")
        text = config.read_text()
        if toggle:  # the third site's schedule changes; the others' stay as they are
            head, _, tail = text.partition(f"name: {changing}")
            text = head + f"name: {changing}" + tail.replace("every: 15s", "every: 20s", 1)
        config.write_text(text)

    write(False)
    port = free_port()
    service = _start_service(config, env, port)
    db = connect(uri, "chaos_reload", timeout_ms=1500)
    tally: Counter[str] = Counter()
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 90)
        time.sleep(5.0)  # the first crawls, due at start, are under way
        base_from = datetime.now(timezone.utc)
        time.sleep(SERVICE_WINDOW_S)
        reload_from = datetime.now(timezone.utc)
        stale = reloads = 0
        deadline = time.monotonic() + SERVICE_WINDOW_S
        while time.monotonic() < deadline:
            reloads += 1
            if reloads % 2:
                write(reloads % 4 == 1)
            else:
                service.send_signal(signal.SIGHUP)
            time.sleep(RELOAD_EVERY_S)
            stale += _stale_next_runs(_get(f"http://127.0.0.1:{port}/metrics")[1], steady, 15 * 1.1)
        until = datetime.now(timezone.utc)
        time.sleep(1.0)
        baseline = _scheduled_runs(db, steady, base_from, reload_from)
        reloaded = _scheduled_runs(db, steady, reload_from, until)
        tally["reloads"] = reloads
        tally[f"crawls of 2 unchanged sites in {SERVICE_WINDOW_S:.0f} s, no reloads"] = len(
            baseline
        )
        tally[f"crawls of 2 unchanged sites in {SERVICE_WINDOW_S:.0f} s, reloads"] = len(reloaded)
        tally["crawls of the site whose schedule changed, reloads"] = len(
            _scheduled_runs(db, [changing], reload_from, until)
        )
        # one crawl per site of slack: a window's edge may cut a crawl either way
        tally["lost: crawls missing against the baseline"] = max(
            0, len(baseline) - len(reloaded) - len(steady)
        )
        tally["crawls failed because of it"] = sum(
            _failed(r) for r in _scheduled_runs(db, names, reload_from, until)
        )
        tally["next-run metric stale (samples)"] = stale
    finally:
        tally["service exit status not 0"] = int(_stop_service(service) != 0)
        db.client.close()
    return dict(tally)


def _stale_next_runs(metrics: str, sites: list[str], period_s: float) -> int:
    """Sites whose next-run metric is not within (now - 5 s, now + period]: a reload that
    pushed the next run out, or a next run left in the past."""
    import re

    now, stale = time.time(), 0
    for site in sites:
        found = re.search(
            rf'newscrawl_next_run_timestamp_seconds\{{site="{site}"\}} (\S+)', metrics
        )
        if not found or not (now - 5 < float(found.group(1)) <= now + period_s):
            stale += 1
    return stale


def run_service_faults(seed: int, only: list[str]) -> int:
    """Each service fault on its own local network; prints its figures, exit 1 if a
    must-be-zero figure is not."""
    started = time.monotonic()
    failed = False
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        LocalNetwork(seed=seed, hostile=False) as net,
    ):
        tmp = Path(tmp_name)
        server = EmbeddedServer(tmp / "mongo", port=free_port())
        uri = server.start()
        try:
            faults = {
                "store-starter-ends": lambda: fault_store_starter_ends(net, tmp),
                "config-reloads": lambda: fault_config_reloads(net, tmp, uri),
            }
            for name, fault in faults.items():
                if only and name not in only:
                    continue
                figures = fault()
                print(f"\n== {name} ==", flush=True)
                width = max(len(k) for k in figures)
                for key, value in figures.items():
                    print(f"{key:<{width}}  {value}", flush=True)
                failed |= any(
                    value
                    for key, value in figures.items()
                    if key.startswith(("lost", "crawls failed", "runs left running"))
                    or key in ("invariant violations", "service exit status not 0")
                )
        finally:
            server.stop()
    print(f"\nseconds  {time.monotonic() - started:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
