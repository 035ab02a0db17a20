"""MinHash signatures and LSH bucket keys over word shingles, deterministic on every worker.

The scheme is fixed here (and printed in the README); changing any of it changes which
articles are candidates, so it is versioned as SCHEME:

- shingles: word 3-grams of the case-folded text (the whole text when it has fewer words);
- each word hashed to 64 bits with blake2b (never Python's `hash()`, which is salted per
  process); a shingle's hash is the top 32 bits of h1·C1 + h2·C2 + h3 (mod 2^64);
- 128 hash functions h(x) = (a·x + b) mod 2^64, top 32 bits (multiply-shift, a odd), with
  a, b drawn once from numpy.random.RandomState(20250520);
- 32 bands of 4 rows: a pair with Jaccard s becomes a candidate with probability
  1 − (1 − s⁴)³² (0.87 at s = 0.5, 0.99 at 0.6, 0.05 at 0.2); candidates are then verified by
  their exact Jaccard. A band's 4 values and its index are mixed into one 64-bit bucket key
  (splitmix64's finalizer); two articles share a bucket when a band of theirs is equal.
"""

from __future__ import annotations

import functools
import hashlib
import re

import numpy as np

SCHEME = {
    "version": 2,
    "shingles": "word-3",
    "hash": "blake2b-64 per word, top 32 bits of h1*C1 + h2*C2 + h3",
    "permutations": "multiply-shift: (a*x + b) mod 2^64 >> 32",
    "num_perm": 128,
    "bands": 32,
    "rows": 4,
    "seed": 20250520,
}
NUM_PERM, BANDS, ROWS = SCHEME["num_perm"], SCHEME["bands"], SCHEME["rows"]
MAX_HASH = np.uint64((1 << 32) - 1)
SHIFT = np.uint64(32)

_rng = np.random.RandomState(SCHEME["seed"])
A = _rng.randint(0, 1 << 64, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
B = _rng.randint(0, 1 << 64, size=NUM_PERM, dtype=np.uint64)

# Odd 64-bit constants (from splitmix64 and the golden ratio) for mixing words and bands.
C1, C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)
M3 = np.uint64(0x94D049BB133111EB)
CHUNK_HASHES = 2048  # signatures() hashes at most this many shingles in one step (2 MB, in cache)

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The case-folded words of the text."""
    return _WORD.findall(text.casefold())


@functools.lru_cache(maxsize=1 << 18)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def shingle_hashes(text: str) -> np.ndarray:
    """The sorted, distinct 32-bit hashes of the text's word 3-shingles (uint32)."""
    return shingle_hash_sets([text])[0]


def shingle_hash_sets(texts: list[str]) -> list[np.ndarray]:
    """shingle_hashes() of many texts, vectorized over all of them."""
    counts, hashes = [], []
    for text in texts:
        found = words(text)
        if found and len(found) < 3:  # one shingle: the whole text
            found += [""] * (3 - len(found))
        counts.append(len(found))
        hashes.extend(map(_word_hash, found))
    counts = np.array(counts, dtype=np.int64)
    flat = np.array(hashes, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 wrap-around is part of the hash
        mixed = flat[:-2] * C1 + flat[1:-1] * C2 + flat[2:]
    # shingles that start in a text and end in it: positions start .. start + count - 3
    shingle_counts = np.maximum(counts - 2, 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    owner = np.repeat(np.arange(len(texts), dtype=np.uint64), shingle_counts)
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(shingle_counts)[:-1]]), shingle_counts)
    positions = np.arange(owner.size) + first
    keyed = np.unique(owner << SHIFT | mixed[positions] >> SHIFT)  # sorted by text, then hash
    bounds = np.searchsorted(keyed >> SHIFT, np.arange(1, len(texts), dtype=np.uint64))
    return np.split((keyed & MAX_HASH).astype(np.uint32), bounds)


def signatures(hash_sets: list[np.ndarray]) -> np.ndarray:
    """(len(hash_sets), NUM_PERM) minimum hash values; a row of MAX_HASH for an empty set.

    Vectorized over many sets at once, at most CHUNK_HASHES shingle hashes per step."""
    out = np.full((len(hash_sets), NUM_PERM), MAX_HASH, dtype=np.uint64)
    start = 0
    while start < len(hash_sets):
        end, total = start, 0
        while end < len(hash_sets) and (end == start or total + hash_sets[end].size <= CHUNK_HASHES):
            total += hash_sets[end].size
            end += 1
        sizes = np.array([h.size for h in hash_sets[start:end]])
        if total:
            permuted = np.multiply.outer(np.concatenate(hash_sets[start:end]).astype(np.uint64), A)
            permuted += B  # in place: uint64 wraps around, and no temporaries leave the cache
            permuted >>= SHIFT
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            filled = sizes > 0
            out[start:end][filled] = np.minimum.reduceat(permuted, offsets[filled], axis=0)
        start = end
    return out


def bucket_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64 keys: equal keys (same band, same 4 values) make two articles candidates."""
    rows = sigs.reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        key = np.arange(BANDS, dtype=np.uint64) * C1
        for r in range(ROWS):
            key = (key ^ rows[:, :, r]) * C2
        key ^= key >> np.uint64(31)
        key *= M3
        key ^= key >> np.uint64(29)
    return key


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted, distinct hash arrays."""
    if a.size == 0 and b.size == 0:
        return 1.0
    if a.size == 0 or b.size == 0:
        return 0.0
    at = np.searchsorted(b, a)  # where each of a would be in b (both sorted)
    common = int(np.count_nonzero(b[np.minimum(at, b.size - 1)] == a))
    return common / (a.size + b.size - common)
