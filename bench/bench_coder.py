"""Coder throughput and memory: ``python bench/bench_coder.py [--articles N]``.

Builds the coder with every language loaded, generates a mixed-language corpus of distinct
~3 KB articles from the project's own samples (samples/articles), codes it on one core and
prints one JSON object: articles/s, KB/s, events, load time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.coding.coder import Coder  # noqa: E402
from streams.coding.text import split_sentences  # noqa: E402
from streams.ingest import read_path  # noqa: E402
from streams.normalize import normalize  # noqa: E402
from streams.records import CleanArticle  # noqa: E402

TARGET_BYTES = 3000


def corpus(n: int, seed: int = 7) -> list[CleanArticle]:
    """n distinct articles of about 3 KB, cycling through the samples' languages.

    Article i takes the title of a sample and a body of that language's sample sentences in a
    seeded random order, so no two texts are the same (no cache sees a repeat) while every
    language and script of the samples is there in its own share.
    """
    base: list[CleanArticle] = []
    for path in sorted((ROOT / "samples" / "articles").iterdir()):
        for msg in read_path(path, stamp=False):
            art = normalize(msg.value, 10_000_000)
            if isinstance(art, CleanArticle):
                base.append(art)
    pools: dict[str, list[str]] = {}
    for art in base:
        pools.setdefault(art.lang, []).extend(split_sentences(art.text))
    rng = random.Random(seed)
    out = []
    for i in range(n):
        art = base[i % len(base)]
        pool = pools[art.lang]
        parts: list[str] = []
        size = 0
        while size < TARGET_BYTES:
            sentence = rng.choice(pool)
            parts.append(sentence)
            size += len(sentence.encode()) + 1
        text = " ".join(parts).encode()[:TARGET_BYTES].decode("utf-8", "ignore")
        out.append(art.model_copy(update={"id": f"{art.id}-{i}", "text": text}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=5000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    coder = Coder.from_config_dir(ROOT / "configs")
    load_s = time.perf_counter() - t0
    arts = corpus(args.articles)
    langs = sorted({a.lang for a in arts})
    size = sum(len(a.text.encode()) for a in arts)
    for a in arts[:50]:  # warm caches
        coder.code(a)
    t1, c1 = time.perf_counter(), time.process_time()
    events = sum(len(coder.code(a)) for a in arts)
    dt, cpu = time.perf_counter() - t1, time.process_time() - c1
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "articles": len(arts),
                "languages": langs,
                "mean_article_bytes": round(size / len(arts)),
                "seconds": round(dt, 3),
                "articles_per_s": round(len(arts) / dt, 1),
                # CPU time is less disturbed than wall time by other work on a shared machine
                "cpu_seconds": round(cpu, 3),
                "articles_per_cpu_s": round(len(arts) / cpu, 1),
                "kb_per_s": round(size / 1024 / dt, 1),
                "events": events,
                "load_seconds": round(load_s, 2),
                "peak_rss_mb": round(rss_kb / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
