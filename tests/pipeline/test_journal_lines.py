"""The journal holds whole lines only: a write cut by a full disk or a file-size limit
leaves nothing behind, and a line cut by a kill never swallows the next one.

The size limit is real: the writing process runs with RLIMIT_FSIZE (the kernel writes
what fits, then refuses the rest with EFBIG, as the chaos bench's full-journal fault and
a full disk do).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.clock import utcnow
from crawler.pipeline.journal import Journal, ReplayBounds, replay

ROOM = 2048  # bytes the writing process may write to one file
WRITER = """
import json, resource, sys
from crawler.pipeline.journal import Journal
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
spool = Journal(sys.argv[1])
written = 0
for n in range(4):
    try:
        spool.append_records("fetches", [{"_id": f"r{n}", "detail": "x" * 800}])
        written += 1
    except OSError as exc:
        print(json.dumps({"written": written, "error": exc.strerror}))
        break
"""


def _replay(folder: Path) -> tuple[list[str], object]:
    got: list[str] = []
    report = replay(
        lambda page: None,
        lambda kind, docs: got.extend(doc["_id"] for doc in docs),
        directory=folder,
        bounds=ReplayBounds(steps=100, seconds=60),
        clock=utcnow,
    )
    return got, report


def test_a_write_past_the_size_limit_leaves_no_half_line(tmp_path: Path):
    folder = tmp_path / "journal"
    folder.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), str(ROOM)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(child.stdout.strip() or "{}")
    assert result.get("written") == 2 and result.get("error"), child.stderr[-2000:]
    [spool] = folder.glob("journal-*.jsonl")
    text = spool.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 2  # the third: nothing of it
    got, report = _replay(folder)
    assert got == ["r0", "r1"]
    assert report.unreadable == 0  # type: ignore[attr-defined]


def test_a_line_cut_by_a_kill_is_reported_and_does_not_swallow_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    spool = Journal(tmp_path)
    spool.append_records("fetches", [{"_id": "before"}])
    with open(spool.path, "a") as handle:
        handle.write('{"type": "fetches", "docs": "[{\\"_id\\": \\"cu')  # killed mid-write
    spool.append_records("fetches", [{"_id": "after"}])
    with caplog.at_level(logging.ERROR):
        got, report = _replay(tmp_path)
    assert got == ["before", "after"]
    assert report.unreadable == 1  # type: ignore[attr-defined]
    assert f"{spool.path.name.split('.')[0]}" in caplog.text and "line 2" in caplog.text
    [kept] = tmp_path.glob("failed-*.jsonl")
    assert kept.read_text().startswith('{"type": "fetches", "docs": "[{\\"_id\\": \\"cu')
