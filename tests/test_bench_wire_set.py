"""The real wire-copy benchmark as a checkout without the publishers' texts runs it:
the labels are in the repository, the texts are not, and the bench says so and goes on."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO


def _load_wire_set():
    """bench/wire_set.py, a script rather than a package module, loaded from its file."""
    spec = importlib.util.spec_from_file_location("wire_set", REPO / "bench" / "wire_set.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire_set = _load_wire_set()


def _clustering_bench(cwd: Path, texts: Path) -> subprocess.CompletedProcess[str]:
    """bench/clustering.py's quality sections, run from another folder as a user would."""
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "clustering.py"),
            "--skip-cost",
            "--events",
            "3",
            "--wire-texts",
            str(texts),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return run


def test_labels_name_a_story_and_a_known_difficulty_for_every_page():
    labels = wire_set.load_labels()
    known = {role for roles in wire_set.GROUPS.values() for role in roles}
    known |= set(wire_set.INDEPENDENT_ROLES)
    assert len(labels) >= 150 and len({label["event"] for label in labels}) >= 30
    assert len({label["url"] for label in labels}) == len(labels)
    assert {label["role"] for label in labels} <= known
    # every event has a wire story carried by two pages or more, or only independent reports
    for event in {label["event"] for label in labels}:
        stories = [label["story"] for label in labels if label["event"] == event]
        assert len(stories) >= 2, event


def test_clustering_bench_skips_the_real_copies_without_their_texts(tmp_path):
    run = _clustering_bench(tmp_path, tmp_path / "absent.jsonl")
    assert "real wire copies: skipped" in run.stdout
    assert "pairwise precision" in run.stdout  # the generated set still ran


def test_clustering_bench_reports_the_real_copies_when_their_texts_exist(tmp_path):
    """Two labelled pages given a text each: the section runs on what is there."""
    copies = [label for label in wire_set.load_labels() if label["story"] == "ap-buffett"][:2]
    lede = (
        "Singer-songwriter Jimmy Buffett, who popularized beach bum soft rock with the "
        "escapist Caribbean-flavored song Margaritaville and turned that celebration of "
        "loafing into an empire of restaurants, resorts and frozen concoctions, has died."
    )
    texts = tmp_path / "texts.jsonl"
    texts.write_text(
        "\n".join(json.dumps({"url": c["url"], "title": "T", "text": lede}) for c in copies)
    )
    run = _clustering_bench(tmp_path, texts)
    # a look-alike copy is made of the first plain copy (bench/lookalike.py) and joins it
    made = sum(1 for c in copies if c["role"] == "copy")
    assert f"real wire copies: {2 + made} pages ({made} look-alike" in run.stdout
    production = next(line for line in run.stdout.splitlines() if "(production)" in line)
    assert production.split()[3:5] == ["1.000", "1.000"]  # precision, recall
    assert "language en" in run.stdout
    # no dateline or credit in these texts: the AP story is not named
    assert "agency: 0/1 stories named right" in run.stdout
