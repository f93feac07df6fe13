"""One alert per story: decide whether an event is a syndicated copy of a story already seen.

Copies of one story share a canonical URL, or a normalized title (the story id the normalizer
gives), or near-identical text (MinHash Jaccard over word shingles, datasketch). Pure
functions over plain dicts, so the cluster list can live in a Faust table.
"""

from __future__ import annotations

import base64
import re
import zlib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
from datasketch import MinHash

from streams.coding.text import UNSPACED_CHAR

NUM_PERM = 64
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|ref$|mc_|cmp$|ocid$)")

Cluster = dict[str, Any]


def _mostly_unspaced(sample: str) -> bool:
    """More than 40 characters of the sample belong to scripts written without spaces."""
    return not sample.isascii() and len(UNSPACED_CHAR.findall(sample)) > 40


def _shingles(text: str) -> set[bytes]:
    """Word 3-grams; character 4-grams for scripts written without spaces."""
    folded = text.casefold()
    if _mostly_unspaced(folded[:400]):
        chars = _SPACE.sub("", folded)  # re's \s is str.isspace
        return {chars[i : i + 4].encode() for i in range(max(1, len(chars) - 3))}
    words = _WORD.findall(folded)
    if len(words) < 3:
        return {" ".join(words).encode()}
    return {f"{a} {b} {c}".encode() for a, b, c in zip(words, words[1:], words[2:], strict=False)}


@lru_cache(maxsize=1)
def _permutations() -> Any:
    """The permutations of MinHash(num_perm=NUM_PERM, seed=7), drawn once, not per article."""
    return MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32").permutations


SIGNATURE_CHARS = 1500


def text_signature(text: str) -> list[int]:
    """A MinHash signature of the text's lead: equal-length lists compare by Jaccard estimate.

    Syndicated copies share their lead; hashing only its first ``SIGNATURE_CHARS`` characters
    keeps the cost per article small and flat however long the article is.

    CRC-32 rather than datasketch's default SHA-1 for the shingle hashes: a shingle needs a
    well-spread 32-bit value, not a cryptographic one (datasketch mixes it before permuting).
    """
    m = MinHash(
        num_perm=NUM_PERM,
        seed=7,
        hashfunc=zlib.crc32,
        scheme="affine32",
        permutations=_permutations(),
    )
    m.update_batch(list(_shingles(text[:SIGNATURE_CHARS])))
    return [int(v) for v in m.hashvalues]


#: A signature as a cluster stores it: a list of ints (events, older clusters) or ``packed``.
Signature = list[int] | str


def packed(signature: list[int] | None) -> str | None:
    """The signature as base64 of little-endian uint32s: about half its size as a JSON list.

    A pair's clusters are one table value, rewritten with every event of the pair, so their
    size is paid in JSON encoding and broker writes on every alert.
    """
    if not signature:
        return None
    return base64.b64encode(np.asarray(signature, dtype="<u4").tobytes()).decode("ascii")


def _values(signature: Signature | None) -> Any:
    if not signature:
        return None
    if isinstance(signature, str):
        return np.frombuffer(base64.b64decode(signature), dtype="<u4")
    return np.asarray(signature, dtype=np.uint64)


def similarity(a: Signature | None, b: Signature | None) -> float:
    """Estimated Jaccard similarity of two signatures, listed or packed (0 when one is missing)."""
    return _agreement(_values(a), _values(b))


def _agreement(x: Any, y: Any) -> float:
    if x is None or y is None or len(x) != len(y):
        return 0.0
    return int(np.count_nonzero(x == y)) / len(x)


def canonical_url(url: str | None) -> str | None:
    """Host without www, path without trailing slash, tracking parameters and fragment dropped."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    return urlunsplit(("", host, parts.path.rstrip("/") or "/", query, ""))


def find_cluster(
    clusters: list[Cluster],
    story_id: str,
    url: str | None,
    signature: list[int] | None,
    when: datetime,
    threshold: float = 0.7,
    window: timedelta = timedelta(days=3),
) -> Cluster | None:
    """The cluster this article belongs to, if it is a copy of a recent story."""
    canon = canonical_url(url)
    mine = _values(signature)
    for cluster in reversed(clusters):
        last = datetime.fromisoformat(cluster["last_seen"])
        if abs((when - last).total_seconds()) > window.total_seconds():
            continue
        if story_id in cluster["story_ids"] or (canon and canon in cluster["urls"]):
            return cluster
        if _agreement(mine, _values(cluster.get("signature"))) >= threshold:
            return cluster
    return None


def new_cluster(
    story_id: str, url: str | None, signature: list[int] | None, when: datetime
) -> Cluster:
    """A cluster for a story seen for the first time; its id is the first copy's story id."""
    canon = canonical_url(url)
    return {
        "id": story_id,
        "story_ids": [story_id],
        "urls": [canon] if canon else [],
        "signature": packed(signature),
        "articles": [],
        "sources": [],
        "codes": [],
        "alerts": [],
        "first_seen": when.isoformat(),
        "last_seen": when.isoformat(),
    }


def add_copy(
    cluster: Cluster,
    article_id: str,
    story_id: str,
    url: str | None,
    source: str | None,
    when: datetime,
) -> bool:
    """Record one article of the story; True when it is an article not seen before."""
    if article_id in cluster["articles"]:
        return False
    cluster["articles"].append(article_id)
    if story_id not in cluster["story_ids"]:
        cluster["story_ids"].append(story_id)
    canon = canonical_url(url)
    if canon and canon not in cluster["urls"]:
        cluster["urls"].append(canon)
    if source and source not in cluster["sources"]:
        cluster["sources"].append(source)
    if when.isoformat() > cluster["last_seen"]:
        cluster["last_seen"] = when.isoformat()
    return True


#: Clusters this much older than the newest story are dropped: copies of a story may still
#: arrive weeks after newer stories (a backfilled feed, a replay).
PRUNE_WINDOW = timedelta(days=30)


def prune(
    clusters: list[Cluster], keep: int = 50, window: timedelta = PRUNE_WINDOW
) -> list[Cluster]:
    """Keep the newest clusters, relative to the newest story (events arrive out of order)."""
    if not clusters:
        return clusters
    newest = max(datetime.fromisoformat(c["last_seen"]) for c in clusters)
    fresh = [
        c
        for c in clusters
        if (newest - datetime.fromisoformat(c["last_seen"])).total_seconds()
        <= window.total_seconds()
    ]
    return fresh[-keep:]
