"""MarkCopies: exact copies, re-reads, edits and near-duplicates.

- The same article read twice (same article_id and same text: a feed item also given as a
  file, a feed listed twice) is kept once; the repeat goes to rejected/ as `repeated_record`.
- An article updated in place (same canonical URL, new text) gets its own id and
  `duplicate_of` the first version, with the word-shingle Jaccard `similarity`.
- A syndicated copy (same normalized text, another URL or outlet) is `duplicate_of` the
  earliest report of that text, `similarity` 1.0 and `exact_copy` true. Only these are exact
  copies: a near-duplicate or an edit whose word shingles are all shared (the texts differ only
  in punctuation) also has a Jaccard of 1.0, but not the same text.
- A near-duplicate (a copy with edits, an article updated under another URL: word-3-shingle
  Jaccard ≥ NEAR_DUPLICATE with an earlier article) is `duplicate_of` the earliest such article,
  with that Jaccard as `similarity`. Candidates come from MinHash-LSH (transforms.minhash, fixed
  seeds) and are verified by their exact Jaccard.

"First" is by published_at, then source and position, so the result does not depend on the
order in which records arrive.

Only a slim `Version` of each article (ids, order, content hash, shingle hashes) goes through
the shuffles that decide these marks; the article rows are shuffled once, to be joined with
their marks (a shuffled row costs ten times a Version).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions

from schemas import Rejected
from schemas.records import REJECTED, micros, stable_id
from transforms.counters import NAMESPACE, count_known
from transforms.incremental import AcrossPolls
from transforms.keyed import CoGroupPacked, FoldInState, like
from transforms.minhash import bucket_keys, jaccard, shingle_hash_sets, signatures

_UNDATED = 1 << 62  # sorts after every date
NEAR_DUPLICATE = 0.5  # word-3 Jaccard: rewrites by other outlets score 0.03, edits of one text > 0.6
EARLIEST_IN_BUCKET = 64  # a later article is compared with the 64 earliest of each bucket it falls in
PARTITIONS = 4  # LSH buckets are spread over this many keys (--lsh-partitions on a remote runner)
BATCH = {"min_batch_size": 256, "max_batch_size": 4096}
HORIZON = timedelta(hours=72)  # how long the versions of one article_id are kept in keyed state

# Where a Version comes from, when the run continues an OUT (transforms/state.py): read in this
# run; already in OUT (a candidate and an original, never marked again); read in this run but
# already in OUT (same id and text: not written again, counted as known); read in this run, an
# exact copy of an article in OUT (it is extracted itself: its original is not read again).
NEW, IN_OUT, KNOWN, COPY_OF_OUT = 0, 1, 2, 3
KNOWN_TAG = "known"  # MarkCopies' output of the rows already in OUT
ORIGINAL_IN_OUT = "original_in_out"  # a row key (not a column): its exact original is in OUT


def first_report_order(row: dict[str, Any]) -> tuple[int, str, str, str]:
    """Earliest published first (µs since 1970); ties, and rows without a date, by where they
    were read. Plain ints and strings: Beam's coder writes them without pickling."""
    published = micros(row["published_at"]) if row["published_at"] else _UNDATED
    return (published, row["source"], row["locator"] or "", row["article_id"])


class Version(NamedTuple):
    """What the copy marks are decided on: an article without its text. It travels between
    steps as a plain tuple (`tuple(v)`, `Version._make(t)`), which Beam encodes field by field;
    a NamedTuple would be pickled."""

    article_id: str  # the id it is written with (an edit in place gets a new one)
    read_as: str  # the id it was read with: the key that joins the marks back to the row
    order: tuple  # first_report_order of the row
    content_hash: str
    hashes: bytes  # its sorted shingle hashes (uint32)
    duplicate_of: str | None = None
    similarity: float | None = None
    exact_copy: bool = False  # the same normalized text as duplicate_of (content_hash)
    state: int = NEW  # NEW | IN_OUT | KNOWN | COPY_OF_OUT (above)

    def shingles(self) -> np.ndarray:
        return np.frombuffer(self.hashes, dtype=np.uint32)


def _versions(rows: list[dict[str, Any]]) -> Iterator[tuple[str, tuple]]:
    """(article_id, Version) of each row of a batch (shingle hashes vectorized over the batch)."""
    for row, hashes in zip(rows, shingle_hash_sets([r["text"] for r in rows]), strict=True):
        aid = row["article_id"]
        yield aid, tuple(Version(aid, aid, first_report_order(row), row["content_hash"], hashes.tobytes()))


def _resolve_same_article(element: tuple[str, Iterable[tuple]]) -> Iterator[tuple[str, tuple]]:
    """Versions read with one article_id, keyed by their text: the first is kept; a later one
    with the same text is a repeat (dropped here, rejected at the join); one with new text is an
    edit of the first."""
    _, versions = element
    # An article in OUT comes first whatever its date: it is written, it stays the original.
    first, *later = sorted(map(Version._make, versions), key=lambda v: (v.state != IN_OUT, v.order, v.content_hash))
    yield first.content_hash, tuple(first)
    seen = {first.content_hash}
    for version in later:
        if first.state == IN_OUT and version.content_hash == first.content_hash and version.state == NEW:
            yield version.content_hash, tuple(version._replace(state=KNOWN))  # already written
            seen.add(version.content_hash)
        elif version.content_hash not in seen:
            seen.add(version.content_hash)
            edit = version._replace(
                article_id=stable_id(first.article_id, version.content_hash),
                duplicate_of=first.article_id,
                similarity=round(jaccard(first.shingles(), version.shingles()), 4),
            )
            yield edit.content_hash, tuple(edit)


def _resolve_same_article_fold(article_id: str, versions: list[tuple]) -> Iterator[tuple[str, tuple]]:
    """_resolve_same_article as FoldInState calls it: keyed state per article_id, so an edit
    read hours after the first version (a feed item rewritten in place) is still its edit."""
    return _resolve_same_article((article_id, versions))


def _version_id(output: tuple[str, tuple]) -> str:
    return output[1][0]  # Version.article_id: the first version's id, or the edit's own


def _mark_same_text(element: tuple[str, Iterable[tuple]]) -> Iterator[tuple[str, tuple]]:
    """(read_as, version) of the versions with the same normalized text: all but the earliest
    are copies of it."""
    _, versions = element
    versions = list(map(Version._make, versions))
    written = {v.article_id for v in versions if v.state == IN_OUT}
    # An article in OUT is the original whatever its date; it and the known ones pass unmarked.
    original, *copies = sorted(versions, key=lambda v: (v.state not in (IN_OUT, KNOWN), v.state, v.order))
    yield original.read_as, tuple(original)
    for copy in copies:
        if copy.state in (IN_OUT, KNOWN) or copy.article_id in written:  # an edit read again is known
            yield copy.read_as, tuple(copy if copy.state == IN_OUT else copy._replace(state=KNOWN))
            continue
        exact = copy._replace(duplicate_of=original.article_id, similarity=1.0, exact_copy=True)
        if original.state in (IN_OUT, KNOWN):
            exact = exact._replace(state=COPY_OF_OUT)
        marked = copy if copy.duplicate_of else exact
        yield marked.read_as, tuple(marked)


def _same_text_across_polls(content_hash: str, new: list[tuple], kept: list[tuple]) -> tuple[list, list]:
    """_mark_same_text in a stream (transforms.incremental.AcrossPolls, keyed by content hash):
    the versions of a text that come in a poll are decided against the original of that text
    kept from earlier polls (or from OUT), which is written and stays the original whatever its
    date; an id already decided is known. Keeps the original first, then the ids decided since."""
    earlier = [Version._make(t) for t in kept]
    written = {v.article_id for v in earlier}
    fed = [v._replace(state=IN_OUT) for v in earlier[:1]]
    for version in map(Version._make, new):
        fed.append(version._replace(state=KNOWN) if version.state == NEW and version.article_id in written else version)
    outputs = list(_mark_same_text((content_hash, [tuple(v) for v in fed])))
    if earlier:
        outputs = outputs[1:]  # the original, decided in an earlier poll
    slim = [tuple(Version._make(v)._replace(hashes=b"")) for _, v in outputs]
    return outputs, [*kept, *slim]


def _near_across_polls(partition: int, new: list[tuple], kept: list[tuple]) -> tuple[list, list]:
    """_near_in_partition in a stream (AcrossPolls, keyed by partition): the new versions of a
    poll are searched among the members kept from earlier polls (candidates only, never searched
    again: they are written) and each other. Keeps the new members, as candidates."""
    outputs = list(_near_in_partition((partition, [*kept, *new])))
    candidates = [(keys, which, [(o, a, h, False) for o, a, h, _ in members]) for keys, which, members in new]
    return outputs, [*kept, *candidates]


def is_exact_copy(marks: Mapping[str, Any]) -> bool:
    """Marked as a copy of the same text (an article row, or a Version's `_asdict()`):
    ExtractEvents reuses its original's events. A Jaccard of 1.0 is not enough: two texts that
    differ only in punctuation have the same word shingles."""
    return bool(marks["duplicate_of"]) and bool(marks["exact_copy"])


def _member(version: Version) -> tuple[tuple, str, bytes, bool]:
    """What a partition needs of a version: its order, id, shingles, and whether it is searched
    (an edit in place already has its duplicate_of) or only a candidate."""
    return version.order, version.article_id, version.hashes, version.duplicate_of is None and version.state == NEW


def _bucket_entries(
    batch: list[tuple[str, tuple]], partitions: int
) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray, list]]]:
    """(partition, (bucket keys, which article, the articles)) for a batch of versions: one
    element per partition of the bucket space (not one per article and band), holding the
    bucket keys that fall in it (uint64 bytes) and the versions they belong to (`which`: uint32
    bytes, an index into the articles). Bytes, not numpy arrays: a numpy array pickles with a
    few hundred bytes of its own, and a stream's partition reads and writes its kept chunks at
    every poll (900 one-article chunks: 17 ms to dump and load as arrays, 2 ms as bytes)."""
    versions = (Version._make(t) for _, t in batch)
    # exact copies: their originals are searched; from OUT: only the last horizon's have shingles
    batch = [v for v in versions if not is_exact_copy(v._asdict()) and v.hashes and v.state != KNOWN]
    keys = bucket_keys(signatures([v.shingles() for v in batch]))
    part = keys % np.uint64(partitions)
    for p in np.unique(part).tolist():
        rows, bands = np.nonzero(part == p)
        members, which = np.unique(rows, return_inverse=True)
        chunk_keys, which = keys[rows, bands].tobytes(), which.astype(np.uint32).tobytes()
        yield p, (chunk_keys, which, [_member(batch[i]) for i in members.tolist()])


def _near_in_partition(element: tuple[int, Iterable[tuple]]) -> Iterator[tuple[str, tuple[tuple, str, float]]]:
    """(article_id, (order, id, Jaccard) of its earliest near-duplicate) found in the buckets of
    one partition. In a bucket, an article's candidates are the EARLIEST_IN_BUCKET earliest
    members published no later than it; it keeps the earliest candidate whose exact Jaccard is
    ≥ NEAR_DUPLICATE. The cap bounds a wire story lightly edited by 300 outlets to 300·64
    candidates a band, not 300²/2. An article may find a match in several partitions: the
    earliest wins."""
    _, chunks = element
    versions: list[tuple[tuple, str, bytes, bool]] = []  # _member()s
    keys, refs = [], []
    for chunk_keys, which, members in chunks:
        keys.append(np.frombuffer(chunk_keys, np.uint64))
        refs.append(np.frombuffer(which, np.uint32).astype(np.intp) + len(versions))
        versions.extend(members)
    keys, refs = np.concatenate(keys), np.concatenate(refs)
    times = np.array([order[0] for order, _, _, _ in versions], dtype=np.int64)[refs]
    order = np.lexsort((times, keys))
    keys, refs, times = keys[order], refs[order], times[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    ends = np.append(starts[1:], keys.size)
    shared = ends - starts > 1
    candidates: dict[int, set[int]] = defaultdict(set)
    for start, end in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
        members, published = refs[start:end].tolist(), times[start:end].tolist()
        for j, later in enumerate(members):
            if versions[later][3]:
                earliest = members[: min(bisect.bisect_right(published, published[j]), EARLIEST_IN_BUCKET)]
                candidates[later].update(earliest)
    for later, found in candidates.items():
        order, article_id, hashes, _ = versions[later]
        mine = np.frombuffer(hashes, dtype=np.uint32)
        for earlier_order, earlier_id, earlier_hashes, _ in sorted(versions[e] for e in found):
            if earlier_order >= order:
                break
            similarity = jaccard(np.frombuffer(earlier_hashes, dtype=np.uint32), mine)
            if similarity >= NEAR_DUPLICATE:  # a searched version is not an edit: article_id is its read_as
                yield article_id, (earlier_order, earlier_id, round(similarity, 4))
                break


class NearDuplicates(beam.PTransform):
    """(read_as, version) -> (read_as, (order, id, Jaccard) of the earliest near-duplicate found
    in one partition of the bucket space), for the versions that are near-duplicates.

    Signatures are computed a batch at a time. A batch sends one element to each partition of
    the bucket space, with the versions whose bucket keys fall in it; candidates are verified
    there. A version is sent to each partition its 32 bucket keys fall in (at most
    `partitions`): that costs memory, and saves shuffling one element per candidate pair. The
    result does not depend on `partitions` (a bucket lies in one partition); more partitions
    spread the search over more workers, fewer send each version to fewer of them.

    In a stream a partition keeps its members of the last `horizon` in keyed state
    (AcrossPolls), so a version is searched among the articles of earlier polls too."""

    def __init__(self, partitions: int = PARTITIONS, horizon: timedelta = HORIZON):
        super().__init__()
        self._partitions = partitions
        self._horizon = horizon

    def expand(self, versions: beam.PCollection) -> beam.PCollection:
        entries = (
            versions
            | "Batch" >> beam.BatchElements(**BATCH)
            | "BucketEntries" >> beam.FlatMap(_bucket_entries, self._partitions)
        )
        if versions.pipeline.options.view_as(StandardOptions).streaming:
            search = AcrossPolls("near_duplicates", _near_across_polls, self._horizon, int, per_value=True)
            found = entries | "NearAcrossPolls" >> search
            return found.main | "NearBackToWindows" >> like(versions)
        return entries | "GroupByPartition" >> beam.GroupByKey() | "NearInPartition" >> beam.FlatMap(_near_in_partition)


def _apply_marks(element: tuple[str, dict[str, list]]) -> Iterator[Any]:
    """The rows read with one article_id, each with the marks of its version, or of the earliest
    near-duplicate found for it; a row whose version was dropped as a repeat goes to rejected/."""
    _, grouped = element
    versions = [v for v in map(Version._make, grouped["versions"]) if v.state != IN_OUT]
    kept = {(v.order, v.content_hash): v for v in versions}
    id_of_text = {v.content_hash: v.article_id for v in kept.values()}
    near = min(grouped["near"], default=None)
    for row in sorted(grouped["rows"], key=first_report_order):
        version = kept.pop((first_report_order(row), row["content_hash"]), None)
        if version is None:
            if row["content_hash"] not in id_of_text:
                # in a stream: the same item from a poll that ran at the same time as the one that
                # yielded it first (Prism runs a burst of overdue ticks in parallel bundles); its
                # first reading is marked in an earlier pane: not a new record, not a rejection
                Metrics.counter(NAMESPACE, "repeat_in_stream|all").inc()
                continue
            detail = f"same id and text as article {id_of_text[row['content_hash']]}"
            rejected = Rejected(row["source"], "repeated_record", detail, row["text"][:300], row["locator"])
            yield beam.pvalue.TaggedOutput(REJECTED, rejected.to_row(row["ingested_at"], row["origin"]))
            continue
        if version.state == KNOWN:  # in OUT already: not written again
            yield beam.pvalue.TaggedOutput(KNOWN_TAG, row)
            continue
        if version.duplicate_of is None and near:
            version = version._replace(duplicate_of=near[1], similarity=near[2])
        marks = {"article_id": version.article_id, "duplicate_of": version.duplicate_of}
        if version.state == COPY_OF_OUT:
            marks[ORIGINAL_IN_OUT] = True
        yield dict(row, **marks, similarity=version.similarity, exact_copy=version.exact_copy)


class MarkCopies(beam.PTransform):
    """Article rows -> {"articles": rows with duplicate_of/similarity, "rejected": repeats,
    "known": rows already in OUT}: re-reads and edits first, then exact copies, then
    near-duplicates.

    `prior`: (article_id, Version tuple in state IN_OUT) of the articles already in OUT
    (transforms.state.ReadState). They take part in every decision as articles read before
    this run's: a row with the id and text of one is known (not written again), a new text
    under its id is an edit of it, the same text elsewhere is a copy of it, and those of the
    last horizon (with shingles) are near-duplicate candidates. They are never marked again.
    A stream passes those of OUT's last horizon, read at start (transforms.resume), and keeps
    the decisions of its earlier polls in keyed state: the same article (FoldInState), the same
    text and near-duplicates (AcrossPolls), each for `horizon` (--dedup-horizon)."""

    def __init__(
        self, partitions: int = PARTITIONS, prior: beam.PCollection | None = None, horizon: timedelta = HORIZON
    ):
        super().__init__()
        self._partitions = partitions
        self._prior = prior
        self._horizon = horizon

    def expand(self, articles: beam.PCollection) -> dict[str, beam.PCollection]:
        rows = articles | "KeyByArticleId" >> beam.Map(lambda row: (row["article_id"], row))
        versions = articles | "BatchRows" >> beam.BatchElements(**BATCH) | "Versions" >> beam.FlatMap(_versions)
        if self._prior is not None:
            versions = (versions, self._prior) | "WithVersionsInOut" >> beam.Flatten()
        resolved = versions | "ResolveSameArticle" >> FoldInState(
            "same_article", _resolve_same_article_fold, _version_id, self._horizon
        )
        if articles.pipeline.options.view_as(StandardOptions).streaming:  # copies of earlier polls' texts too
            same_text = resolved.main | "SameTextAcrossPolls" >> AcrossPolls(
                "same_text", _same_text_across_polls, self._horizon
            )
            versions = same_text.main | "BackToWindows" >> like(articles)
        else:
            versions = (
                resolved.main
                | "BackToWindows" >> like(articles)
                | "GroupByContent" >> beam.GroupByKey()
                | "MarkSameText" >> beam.FlatMap(_mark_same_text)
            )
        joined = (
            {
                "rows": rows,
                "versions": versions,
                "near": versions | "NearDuplicates" >> NearDuplicates(self._partitions, self._horizon),
            }
            | "JoinMarks" >> CoGroupPacked()
            | "ApplyMarks" >> beam.FlatMap(_apply_marks).with_outputs(REJECTED, KNOWN_TAG, main="articles")
        )
        known = joined[KNOWN_TAG] | "CountKnown" >> beam.Map(count_known)
        return {"articles": joined.articles, "rejected": joined[REJECTED], "known": known}
