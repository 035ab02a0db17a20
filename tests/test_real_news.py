"""Real news pages (../shared/data/real-news): the whole batch job, scored by ../shared/tools/score-real.

80 excerpts of real articles from about 70 outlets, labelled with the figures each states, its
night and whether it is a confounder. The floors below are the figures measured when the test
was written (see the README, "Accuracy on real news"); a change that lowers one of them fails.
`pytest -s tests/test_real_news.py` prints the scorer's SUMMARY line.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from helpers import ROOT, SHARED_DATA, needs_shared, newsmon

pytestmark = needs_shared

REAL_NEWS = SHARED_DATA / "real-news"
SCORER = ROOT.parent / "shared" / "tools" / "score-real"

FLOORS = {  # measured 2026-11-28: 0.954, 0.980, 0.927 (README); the issue targets 0.92, 0.95, 0.9
    "field_acc": 0.92,
    "date_acc": 0.95,
    "stories_f1": 0.9,
}


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("real-news") / "out"
    done = newsmon("run", "--input", str(REAL_NEWS / "articles.jsonl"), "--output", str(out))
    assert done.returncode == 0, done.stderr
    scored = subprocess.run([sys.executable, str(SCORER), str(out)], capture_output=True, text=True, check=True)
    lines = scored.stdout.splitlines()
    print("\n".join(lines[-2:]))
    fields = dict(re.findall(r"(\w+)=(\S+)", lines[-1]))
    fields["story_precision"] = re.search(r"precision ([\d.]+)", lines[-2]).group(1)
    return fields


def test_every_article_read_and_every_labelled_attack_found(summary):
    read, total = summary["articles"].split("/")
    assert read == total == "80"
    assert summary["with_event"] == summary["attacks_scored"]


def test_figures_and_dates(summary):
    assert float(summary["field_acc"]) >= FLOORS["field_acc"]
    assert float(summary["date_acc"]) >= FLOORS["date_acc"]


def test_same_night_articles_share_a_story(summary):
    assert float(summary["stories_f1"]) >= FLOORS["stories_f1"]
    assert float(summary["story_precision"]) >= 0.98


def test_ceasefires_talks_and_exchanges(summary):
    found, total = summary["other_events"].split("/")
    assert found == total


def test_confounders(summary):
    wrong = summary["confounders_wrong"].split("/")[0]
    assert int(wrong) <= 1  # rn028 (a Russian outlet relaying the Ukrainian figures): see the README
