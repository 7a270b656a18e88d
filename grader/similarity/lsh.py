"""Which pairs of a large class are worth comparing: MinHash/LSH candidates (``datasketch``).

Comparing all pairs of ``n`` students is ``n(n-1)/2`` comparisons: 79,800 at ``LSH_FROM``
students, each a few set intersections per artifact, which is seconds; at 2,000 students it
is two million, and it keeps growing with the square. Above ``LSH_FROM``, MinHash signatures
(``num_perm`` hashes each) are banded into an LSH index that proposes only the pairs whose
estimated Jaccard similarity is near ``threshold`` or above; below it, all pairs are exact and
cost nothing worth saving, and LSH's occasional miss (it is probabilistic) is not worth taking.

The index estimates Jaccard (|A ∩ B| / |A ∪ B|), while a finding is judged by containment
(|A ∩ B| / min): a short answer copied whole into a long one has a low Jaccard, so callers
should pass a ``threshold`` well below the containment they flag at.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Mapping

LSH_FROM = 400     # classes larger than this compare LSH candidates only (see the module docstring)


def _encode(item: int | str) -> bytes:
    if isinstance(item, int):
        # Fingerprints are 64-bit; other ints are encoded by value, sign included.
        return b"i" + item.to_bytes((item.bit_length() + 8) // 8 or 1, "big", signed=True)
    return b"s" + str(item).encode("utf-8", "surrogatepass")


def candidate_pairs(sets: Mapping[str, Iterable[int | str]], *, threshold: float,
                    num_perm: int = 128) -> set[tuple[str, str]]:
    """The pairs of ids (each sorted) whose sets' estimated Jaccard similarity reaches about ``threshold``.

    Empty sets are never proposed (they are alike only in having nothing). Deterministic: the
    MinHash permutations come from a fixed seed.
    """
    from datasketch import MinHash, MinHashLSH

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), received {threshold}")
    encoded = {key: sorted({_encode(item) for item in items}) for key, items in sets.items()}
    encoded = {key: values for key, values in encoded.items() if values}
    # ``bulk`` draws the permutations once for all signatures (the same fixed seed as one at a time).
    signatures = dict(zip(encoded, MinHash.bulk(encoded.values(), num_perm=num_perm, seed=1)))
    index = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for key, signature in signatures.items():
        index.insert(key, signature)
    pairs: set[tuple[str, str]] = set()
    for key, signature in signatures.items():
        for other in index.query(signature):
            if other != key:
                pairs.add((key, other) if key < other else (other, key))
    return pairs


def all_pairs(ids: Iterable[str]) -> set[tuple[str, str]]:
    """Every pair of distinct ids, each sorted: what a class up to ``LSH_FROM`` students compares."""
    return set(combinations(sorted(set(ids)), 2))
