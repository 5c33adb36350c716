"""README.md and docs/ carry the deterministic figures tools/doc_tables.py computes (flash, RAM,
arena, stack bound, instructions per MAC under QEMU -icount, MNIST accuracy, confidence fits): this
fails, showing the difference, when a change to lenetc leaves a table stale (issue 28 item 7).
Refresh with ``PYTHONPATH=. python tools/doc_tables.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from firmware_helpers import need_target

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import doc_tables  # noqa: E402


def test_the_documents_mark_every_table():
    marked = {m.group(2) for p in doc_tables.documents() for m in doc_tables._MARK.finditer(p.read_text("utf-8"))}
    assert marked == set(doc_tables.TABLES)


@pytest.mark.slow
def test_tables_are_what_the_script_computes():
    for target in doc_tables.ICOUNT_TARGETS:
        need_target(target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "doc_tables.py"), "--check"], capture_output=True,
                         text=True, env=env)  # fmt: skip
    assert run.returncode == 0, "stale tables (PYTHONPATH=. python tools/doc_tables.py):\n" + run.stdout[-6000:]
