"""Coder throughput and memory: ``python bench/bench_coder.py [--articles N] [--rounds R]``.

Builds the coder with every language loaded, generates a mixed-language corpus of distinct
~3 KB articles from the project's own samples (samples/articles), codes it on one core in R
rounds of N new articles, each beside a trivial baseline pass over the same articles, and
prints one JSON object: articles/s (median of the rounds, and each), the coder's time over the
baseline's, KB/s, events, load time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streams.coding.coder as coder_module  # noqa: E402
from streams.coding.text import split_sentences  # noqa: E402
from streams.ingest import read_path  # noqa: E402
from streams.normalize import normalize  # noqa: E402
from streams.offload import load_coder  # noqa: E402
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


def baseline(arts: list[CleanArticle]) -> int:
    """A fixed, trivial pass over the same articles (case-fold and split into words): timed
    beside the coder in every round, so their ratio holds when the shared host's speed does
    not (the same code ran at 450 to 790 articles/s within an hour here)."""
    return sum(len(_WORDS.findall(a.text.casefold())) for a in arts)


_WORDS = re.compile(r"\w+")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=5000, help="distinct articles per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, each on new articles")
    args = ap.parse_args()
    t0 = time.perf_counter()
    coder = load_coder(ROOT / "configs")  # as the worker loads it (objects frozen out of gc)
    load_s = time.perf_counter() - t0
    for a in corpus(50, seed=1):  # warm caches
        coder.code(a)
    n = args.articles
    langs: list[str] = []
    size = 0
    coder_s: list[float] = []
    coder_cpu: list[float] = []
    base_s: list[float] = []
    events = 0
    for r in range(args.rounds):
        # Each round's articles are new (another seed) and only one round's are in memory,
        # so the peak RSS is the coder's and one corpus's, whatever the number of rounds.
        arts = corpus(n, seed=7 + r)
        langs = sorted({a.lang for a in arts})
        size = sum(len(a.text.encode()) for a in arts)
        t1 = time.perf_counter()
        baseline(arts)
        base_s.append(time.perf_counter() - t1)
        t1, c1 = time.perf_counter(), time.process_time()
        events += sum(len(coder.code(a)) for a in arts)
        coder_s.append(time.perf_counter() - t1)
        coder_cpu.append(time.process_time() - c1)
        del arts
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dt, cpu, base = (
        statistics.median(coder_s),
        statistics.median(coder_cpu),
        statistics.median(base_s),
    )
    print(
        json.dumps(
            {
                "articles": n,
                "rounds": args.rounds,
                "languages": langs,
                "mean_article_bytes": round(size / n),
                "seconds": round(dt, 3),
                # medians over the rounds; each round's figure too
                "articles_per_s": round(n / dt, 1),
                "articles_per_s_rounds": [round(n / x, 1) for x in coder_s],
                # CPU time is less disturbed than wall time by other work on a shared machine
                "cpu_seconds": round(cpu, 3),
                "articles_per_cpu_s": round(n / cpu, 1),
                "kb_per_s": round(size / 1024 / dt, 1),
                "baseline_articles_per_s": round(n / base, 1),
                # coder time / baseline time, round by round: the host's speed cancels out
                "coder_to_baseline_ratio": round(
                    statistics.median(c / b for c, b in zip(coder_s, base_s, strict=True)), 1
                ),
                "events_per_article": round(events / (n * args.rounds), 2),
                "load_seconds": round(load_s, 2),
                "peak_rss_mb": round(rss_kb / 1024, 1),
                # mypyc-compiled (setup.py, make compile) or pure Python
                "compiled": not coder_module.__file__.endswith(".py"),
            }
        )
    )


if __name__ == "__main__":
    main()
