"""Extraction quality on the Zyte article-extraction-benchmark (181 real pages).

Metric: the benchmark's own — word 4-gram shingle precision / recall / F1 per
page, averaged over pages. Compares our extractor with plain trafilatura in
the same run. Skips (exit 0, message) when ../shared/corpora is absent.

    python bench/extraction_quality.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "extraction-zyte"


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text.lower())
    return Counter(tuple(tokens[i : i + n]) for i in range(max(0, len(tokens) - n + 1)))


def prf(expected: str, predicted: str) -> tuple[float, float, float]:
    exp, pred = shingles(expected), shingles(predicted)
    if not exp and not pred:
        return 1.0, 1.0, 1.0
    tp = sum((exp & pred).values())
    precision = tp / sum(pred.values()) if pred else 0.0
    recall = tp / sum(exp.values()) if exp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load(corpus: Path) -> list[tuple[str, str, bytes]]:
    truth = json.loads((corpus / "ground-truth.json").read_text())
    pages = []
    for page_id, item in sorted(truth.items()):
        path = corpus / "html" / f"{page_id}.html.gz"
        if path.exists():
            pages.append(
                (item.get("url") or "", item["articleBody"], gzip.decompress(path.read_bytes()))
            )
    return pages


def score(name: str, pages, fn) -> dict[str, float]:
    totals = [0.0, 0.0, 0.0]
    start = time.perf_counter()
    for url, expected, html in pages:
        try:
            predicted = fn(html, url) or ""
        except Exception:
            predicted = ""
        for i, value in enumerate(prf(expected, predicted)):
            totals[i] += value
    elapsed = time.perf_counter() - start
    n = len(pages)
    result = {
        "precision": totals[0] / n,
        "recall": totals[1] / n,
        "f1": totals[2] / n,
        "pages_per_s": n / elapsed,
    }
    print(
        f"{name:28s} P={result['precision']:.3f} R={result['recall']:.3f} "
        f"F1={result['f1']:.4f}  {result['pages_per_s']:.0f} pages/s"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if not (args.corpus / "ground-truth.json").exists():
        print(f"corpus not found at {args.corpus}; skipping")
        return 0
    import trafilatura

    from crawler.text.extract import extract

    pages = load(args.corpus)
    print(f"{len(pages)} pages from {args.corpus}")
    baseline = score(
        "trafilatura.extract (plain)", pages, lambda h, u: trafilatura.extract(h, url=u)
    )
    ours = score("newscrawl extract", pages, lambda h, u: extract(h, u).text)
    print(f"F1 difference vs trafilatura: {ours['f1'] - baseline['f1']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
