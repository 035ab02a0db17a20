"""transforms.keyed: what CoGroupPacked holds while a grouping waits."""

from __future__ import annotations

import pickle

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from bench.pipeline import build_corpus
from transforms.keyed import CoGroupPacked, packed, unpacked
from transforms.merge import VersionRow


def test_articles_pack_to_about_half_their_pickle_and_unpack_as_they_were() -> None:
    articles = build_corpus(200)
    pickles = sum(len(pickle.dumps(a, pickle.HIGHEST_PROTOCOL)) for a in articles)
    packs = [packed(a) for a in articles]
    assert [unpacked(p) for p in packs] == articles
    assert sum(map(len, packs)) < 0.7 * pickles


def test_a_version_row_unpacks_as_a_version_row() -> None:
    row = VersionRow({"event_id": "e1", "version": 2, "claims": [{"field": "killed", "value": "3"}] * 50})
    back = unpacked(packed(row))
    assert type(back) is VersionRow and back == row


def test_joins_give_the_values_back_whole() -> None:
    articles = build_corpus(30)
    articles_by_id = {a["id"]: a for a in articles}
    with beam.Pipeline(runner="FnApiRunner") as p:
        keyed = p | beam.Create([(a["outlet"], a) for a in articles])
        marks = p | "Marks" >> beam.Create([(a["id"], len(a["text"])) for a in articles])
        joined = {"article": keyed | beam.MapTuple(lambda _, a: (a["id"], a)), "mark": marks} | CoGroupPacked()
        whole = joined | beam.MapTuple(
            lambda k, g: (k, g["article"][0]["text"] == articles_by_id[k]["text"], g["mark"])
        )
        assert_that(whole, equal_to([(a["id"], True, [len(a["text"])]) for a in articles]), label="joined")
