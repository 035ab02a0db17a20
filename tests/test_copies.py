"""MarkCopies: exact copies, edits, re-reads and near-duplicates, on FnApiRunner."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that
from helpers import SAMPLES

from transforms.copies import NEAR_DUPLICATE, MarkCopies, is_exact_copy
from transforms.extract import ExtractEvents
from transforms.formats import parse_text
from transforms.minhash import bucket_keys, jaccard, shingle_hashes, signatures
from transforms.normalize import normalize

T0 = datetime(2025, 3, 14, 5, 30, tzinfo=timezone.utc)


def story_a() -> str:
    data = (SAMPLES / "articles" / "2025-03-14_kyivwire_overnight-attack.txt").read_bytes()
    return next(parse_text(data, "a.txt"))["text"]


def article(url: str | None, text: str, minutes: int, outlet: str = "Kyiv Wire") -> dict:
    raw = {"title": "T", "text": text, "url": url, "outlet": outlet, "published": T0 + timedelta(minutes=minutes)}
    raw |= {"external_id": None, "locator": None, "html": False, "source": f"/in/{minutes}.txt", "origin": "/in"}
    return normalize(raw | {"ingested_at": T0 + timedelta(days=1)})


def edited(text: str) -> str:
    """The same wire copy with a new last paragraph and one figure updated."""
    paragraphs = text.split("\n\n")
    return "\n\n".join([*paragraphs[:-1], "Officials said later that the number of injured had risen to 16."])


def rewrite() -> str:
    data = (SAMPLES / "articles" / "2025-03-14_baltic-monitor_kharkiv-odessa-strikes.html").read_bytes()
    from transforms.formats import parse_html

    return next(parse_html(data, "b.html"))["text"]


_FOUND: dict[str, dict] = {}


def _collect(actual: list[dict]) -> None:
    """Runs in the (in-process) FnApiRunner worker; pickled by reference, so it fills _FOUND."""
    _FOUND.update({r["source"]: r for r in actual})


def run(rows: list[dict]) -> dict[str, dict]:
    """MarkCopies over the rows; the marked articles by source."""
    _FOUND.clear()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | beam.Create(rows) | MarkCopies()
        assert_that(out["articles"], _collect)
    assert _FOUND, "the pipeline produced no articles"
    return dict(_FOUND)


@pytest.fixture(scope="module")
def texts():
    return {"original": story_a(), "edited": edited(story_a()), "rewrite": rewrite()}


def test_similarities_of_the_cases(texts):
    original = shingle_hashes(texts["original"])
    assert jaccard(original, shingle_hashes(texts["edited"])) >= NEAR_DUPLICATE
    assert jaccard(original, shingle_hashes(texts["rewrite"])) < 0.1


def test_copies_edits_and_rewrites(texts):
    rows = [
        article("https://kyivwire.example/a", texts["original"], 0),
        article("https://dnipro.example/a", texts["original"], 30, "Dnipro Herald"),  # syndicated, exact
        article("https://baltic.example/b", texts["edited"], 60, "Baltic Monitor"),  # an edited copy
        article("https://kyivwire.example/a", texts["edited"], 90),  # the original updated in place
        article("https://other.example/c", texts["rewrite"], 45, "Other"),  # a rewrite: not a copy
    ]
    marked = run(rows)
    original_id = marked["/in/0.txt"]["article_id"]
    assert marked["/in/0.txt"]["duplicate_of"] is None
    assert (marked["/in/30.txt"]["duplicate_of"], marked["/in/30.txt"]["similarity"]) == (original_id, 1.0)
    near = marked["/in/60.txt"]
    assert near["duplicate_of"] == original_id and NEAR_DUPLICATE <= near["similarity"] < 1.0
    update = marked["/in/90.txt"]
    assert update["duplicate_of"] == original_id and update["article_id"] != original_id
    assert marked["/in/45.txt"]["duplicate_of"] is None


def test_the_result_does_not_depend_on_arrival_order(texts):
    rows = [
        article("https://kyivwire.example/a", texts["original"], 0),
        article("https://baltic.example/b", texts["edited"], 60, "Baltic Monitor"),
        article("https://other.example/c", texts["rewrite"], 45, "Other"),
        article("https://dnipro.example/a", texts["original"], 30, "Dnipro Herald"),
    ]
    first = run(rows)
    random.Random(7).shuffle(rows)
    assert run(list(reversed(rows))) == first


def test_signatures_are_the_same_in_every_process(texts):
    """No salted hash(): another interpreter with another PYTHONHASHSEED gives the same bands."""
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from transforms.minhash import bucket_keys, signatures, shingle_hashes;"
        "print(bucket_keys(signatures([shingle_hashes(sys.stdin.read())])).tolist())"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    other = subprocess.run([sys.executable, "-c", code], input=texts["original"], capture_output=True, text=True,
                           env=env, check=True).stdout.strip()  # fmt: skip
    assert other == str(bucket_keys(signatures([shingle_hashes(texts["original"])])).tolist())


def test_minhash_estimate_tracks_jaccard(texts):
    a, b = shingle_hashes(texts["original"]), shingle_hashes(texts["edited"])
    sig_a, sig_b = signatures([a, b])
    estimate = float(np.mean(sig_a == sig_b))
    assert abs(estimate - jaccard(a, b)) < 0.15


def test_signatures_of_a_batch_equal_those_computed_one_by_one(texts):
    """signatures() works through a batch in chunks; chunking must not change a signature."""
    sets = [shingle_hashes(t) for t in texts.values()]
    sets += [np.empty(0, dtype=np.uint32), np.arange(5000, dtype=np.uint32), shingle_hashes("Kyiv")]
    batch = signatures(sets * 40)
    for i, hashes in enumerate(sets * 40):
        assert (batch[i] == signatures([hashes])[0]).all()


def test_the_result_does_not_depend_on_the_number_of_partitions(texts):
    """A bucket lies in one partition: 1, 4 or 16 partitions find the same near-duplicates."""
    rows = [article(f"https://outlet{i}.example/a", edited(texts["original"]) + f" Update {i}.", i) for i in range(6)]
    rows += [article("https://kyivwire.example/a", texts["original"], -5)]
    results = []
    for partitions in (1, 4, 16):
        _FOUND.clear()
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
            assert_that((p | beam.Create(rows) | MarkCopies(partitions))["articles"], _collect)
        results.append(dict(_FOUND))
    assert results[0] == results[1] == results[2]
    assert sum(1 for r in results[0].values() if r["duplicate_of"]) == 6


# A wire report, the same report with other punctuation (all word shingles shared: Jaccard 1.0,
# but not the same text), and a syndicated copy with other case and line breaks (the same text).
WIRE = (
    "Russia launched 71 drones at the Odesa region overnight, the Air Force said. Air defence shot down "
    "44 of them.\n\nTwo people were injured in Izmail, the regional governor said."
)
REPUNCTUATED = (
    "Russia launched 71 drones at the Odesa region overnight - the Air Force said; air defence shot down "
    "44 of them!\n\nTwo people were injured in Izmail (the regional governor said)."
)
REFLOWED = (
    "RUSSIA LAUNCHED 71 DRONES AT THE ODESA REGION OVERNIGHT, the Air Force said. Air defence shot\ndown "
    "44 of them.\n\nTwo people were injured in Izmail, the regional governor said."
)


def wire_articles() -> list[dict]:
    return [
        article("https://wire.example/odesa", WIRE, 0, "Wire"),
        article("https://coast.example/odesa", REPUNCTUATED, 20, "Coast News"),
        article("https://port.example/odesa", REFLOWED, 40, "Port Daily"),
    ]


def test_a_punctuation_only_difference_is_not_an_exact_copy():
    original, repunctuated, reflowed = wire_articles()
    assert jaccard(shingle_hashes(WIRE), shingle_hashes(REPUNCTUATED)) == 1.0
    assert repunctuated["content_hash"] != original["content_hash"] == reflowed["content_hash"]
    marked = run(wire_articles())
    near, copy = marked["/in/20.txt"], marked["/in/40.txt"]
    assert (near["duplicate_of"], near["similarity"], near["exact_copy"]) == (original["article_id"], 1.0, False)
    assert (copy["duplicate_of"], copy["similarity"], copy["exact_copy"]) == (original["article_id"], 1.0, True)
    assert not is_exact_copy(near) and is_exact_copy(copy) and not marked["/in/0.txt"]["exact_copy"]


_MENTIONS: list[dict] = []


def _collect_mentions(actual: list[dict]) -> None:
    _MENTIONS.extend(actual)


def extract(rows: list[dict]) -> dict[str, dict]:
    """MarkCopies then ExtractEvents over the rows: the air-attack mention of each article id."""
    _MENTIONS.clear()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        marked = (p | beam.Create(rows) | MarkCopies())["articles"]
        assert_that(marked | ExtractEvents(), _collect_mentions)
    return {m["article_id"]: m for m in _MENTIONS if m["event_type"] == "air_attack"}


def test_every_copy_evidence_points_into_its_own_text():
    """The re-punctuated report is read by spaCy itself; the syndicated copy re-uses the
    original's mentions, with spans found across its other case and line breaks."""
    rows = wire_articles()
    mentions = extract(rows)
    texts = {r["article_id"]: r["text"] for r in rows}
    assert mentions.keys() == texts.keys()
    for article_id, m in mentions.items():
        assert (m["fields"]["drones_launched"], m["fields"]["drones_shot_down"], m["fields"]["injured"]) == (71, 44, 2)
        for e in m["evidence"]:
            assert e["article_id"] == article_id and 0 <= e["start"] < e["end"]
            assert texts[article_id][e["start"] : e["end"]] == e["text"]


def test_a_copy_whose_evidence_is_not_found_is_extracted_itself():
    """Marked as an exact copy, but a sentence is not in its text (here: the marks were given by
    hand): it is read by spaCy rather than given spans of -1."""
    original = article("https://wire.example/odesa", WIRE, 0, "Wire")
    copy = article("https://coast.example/odesa", REPUNCTUATED, 20, "Coast News")
    copy |= {"duplicate_of": original["article_id"], "similarity": 1.0, "exact_copy": True}
    _MENTIONS.clear()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        assert_that(p | beam.Create([original, copy]) | ExtractEvents(), _collect_mentions)
    found = [m for m in _MENTIONS if m["article_id"] == copy["article_id"]]
    assert [m["fields"]["drones_launched"] for m in found] == [71]
    for e in found[0]["evidence"]:
        assert copy["text"][e["start"] : e["end"]] == e["text"]
