"""Score the coder against labeled sets (``geomon eval``): pure functions over rows.

Two shapes are read: sentence sets (one gold event per row, rows of a sentence share the id
up to the last ':'), and article excerpts with an ``events`` list (watchpairs). Each text is
coded as a one-sentence article. Every measure is computed beside a majority-class baseline,
so a number means something only next to what guessing the most common answer gives.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.coding.lexicon import ROLES
from streams.records import CleanArticle, CodedEvent

METRICS = (
    "detection_f1",
    "false_event_rate",
    "pair_f1",
    "event_f1",
    "directed_accuracy",
    "root_accuracy",
    "approx_root_accuracy",
    "macro_f1_root",
)


@dataclass(frozen=True)
class GoldEvent:
    """One labeled event: countries (either may be unknown), exact root, allowed roots."""

    source: str | None
    target: str | None
    root: str | None
    approx: frozenset[str]

    @property
    def pair(self) -> str | None:
        """Undirected pair when both countries are known and differ."""
        if self.source and self.target and self.source != self.target:
            return "-".join(sorted((self.source, self.target)))
        return None


@dataclass
class Unit:
    """One text and its gold events."""

    key: str
    lang: str
    text: str
    negative: bool
    events: list[GoldEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Predicted:
    """What the coder said about one text (enough to score it)."""

    pair: str
    source: str
    target: str
    root: str
    confidence: float


def _country(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip() or code.startswith("-"):
        return None
    return code.strip().upper()[:3] if len(code) > 3 and code[:3].isalpha() else code.upper()


def read_units(path: Path) -> list[Unit]:
    """Units from either shape of labeled file; returns them in file order."""
    units: dict[str, Unit] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            if "events" in row:  # article-excerpt shape
                unit = Unit(
                    row["id"], row.get("lang", "und"), row["text"], bool(row.get("negative"))
                )
                for ev in row.get("events") or []:
                    root = ev.get("root")
                    unit.events.append(
                        GoldEvent(
                            _country(ev.get("source")),
                            _country(ev.get("target")),
                            root,
                            frozenset([root] if root else []),
                        )
                    )
                units[unit.key] = unit
                continue
            parts = str(row["id"]).split(":")
            key = ":".join(parts[:-1]) if len(parts) >= 3 else str(row["id"])
            unit = units.setdefault(key, Unit(key, row.get("lang", "und"), row["text"], False))
            if row.get("no_event"):
                unit.negative = not unit.events
                continue
            unit.negative = False
            approx = frozenset(
                row.get("root_code_approx") or ([row["root_code"]] if row.get("root_code") else [])
            )
            unit.events.append(
                GoldEvent(
                    _country(row.get("source_country")),
                    _country(row.get("target_country")),
                    row.get("root_code"),
                    approx,
                )
            )
    return list(units.values())


def count_rows(path: Path) -> int:
    """Lines with a JSON object."""
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def predict(code: Callable[[CleanArticle], list[CodedEvent]], unit: Unit) -> list[Predicted]:
    """Code one text as a one-sentence article."""
    article = CleanArticle(id=unit.key, story_id=unit.key, lang=unit.lang, text=unit.text)
    return [
        Predicted(e.pair, e.source[:3], e.target[:3], e.root, e.confidence) for e in code(article)
    ]


def _country_pair(p: Predicted) -> bool:
    """Pair measures count two different states (or IGOs), never a role such as police."""
    return p.source != p.target and p.source not in ROLES and p.target not in ROLES


def _f1(tp: int, fp: int, fn: int) -> float | None:
    if tp + fp + fn == 0:
        return None
    return round(2 * tp / (2 * tp + fp + fn), 4)


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _macro_f1(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Macro-F1 over roots of (gold, predicted) pairs."""
    if not pairs:
        return None
    labels = {g for g, _ in pairs} | {p for _, p in pairs}
    scores = []
    for lab in labels:
        tp = sum(1 for g, p in pairs if g == lab and p == lab)
        fp = sum(1 for g, p in pairs if g != lab and p == lab)
        fn = sum(1 for g, p in pairs if g == lab and p != lab)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return round(sum(scores) / len(scores), 4)


def score(units: Sequence[Unit], preds: Sequence[list[Predicted]]) -> dict[str, Any]:
    """Every measure for units and their predictions (same order)."""
    det = [0, 0, 0]
    neg_total = neg_with_event = 0
    pair_c = [0, 0, 0]
    event_c = [0, 0, 0]
    directed = [0, 0]
    root = [0, 0]
    approx = [0, 0]
    root_pairs: list[tuple[str, str]] = []
    for unit, pred in zip(units, preds, strict=True):
        gold_pos = bool(unit.events) and not unit.negative
        if gold_pos and pred:
            det[0] += 1
        elif pred:
            det[1] += 1
        elif gold_pos:
            det[2] += 1
        if unit.negative:
            neg_total += 1
            neg_with_event += bool(pred)
        best: dict[str, Predicted] = {}
        roots_by_pair: dict[str, set[str]] = {}
        country_preds = [p for p in pred if _country_pair(p)]
        for p in sorted(country_preds, key=lambda p: -p.confidence):
            best.setdefault(p.pair, p)
            roots_by_pair.setdefault(p.pair, set()).add(p.root)
        gold_pairs = {e.pair for e in unit.events if e.pair}
        if gold_pairs and not unit.negative:
            pred_pairs = set(best)
            pair_c[0] += len(gold_pairs & pred_pairs)
            pair_c[1] += len(pred_pairs - gold_pairs)
            pair_c[2] += len(gold_pairs - pred_pairs)
            gold_events = {(e.pair, e.root) for e in unit.events if e.pair and e.root}
            if gold_events:
                pred_events = {(p.pair, p.root) for p in country_preds}
                event_c[0] += len(gold_events & pred_events)
                event_c[1] += len(pred_events - gold_events)
                event_c[2] += len(gold_events - pred_events)
            for e in unit.events:
                if e.pair is None or e.pair not in best:
                    continue
                top = best[e.pair]
                directed[1] += 1
                directed[0] += top.source == e.source
                if e.root:
                    root[1] += 1
                    root[0] += e.root in roots_by_pair[e.pair]
                    root_pairs.append((e.root, top.root))
        approx_sets = [e.approx for e in unit.events if e.approx]
        if approx_sets and pred:
            allowed = frozenset().union(*approx_sets)
            top_root = max(pred, key=lambda p: p.confidence).root
            approx[1] += 1
            approx[0] += top_root in allowed
    return {
        "detection_f1": _f1(*det),
        "false_event_rate": _ratio(neg_with_event, neg_total),
        "pair_f1": _f1(*pair_c),
        "event_f1": _f1(*event_c),
        "directed_accuracy": _ratio(*directed),
        "root_accuracy": _ratio(*root),
        "approx_root_accuracy": _ratio(*approx),
        "macro_f1_root": _macro_f1(root_pairs),
        "root_pairs": root_pairs,
    }


def baseline(units: Sequence[Unit]) -> dict[str, Any]:
    """The majority class for each measure: what a constant guess scores."""
    positives = sum(1 for u in units if u.events and not u.negative)
    say_event = positives >= len(units) - positives
    pairs = Counter(e.pair for u in units if not u.negative for e in u.events if e.pair)
    roots = Counter(e.root for u in units for e in u.events if e.root)
    approx_roots = Counter(r for u in units for e in u.events for r in e.approx)
    top_pair = pairs.most_common(1)[0][0] if pairs else None
    top_root = (
        roots.most_common(1)[0][0]
        if roots
        else (approx_roots.most_common(1)[0][0] if approx_roots else None)
    )
    if not say_event or top_root is None:
        guess: list[Predicted] = []
    else:
        pair = top_pair or "XXX-YYY"
        src, tgt = pair.split("-")
        guess = [Predicted(pair, src, tgt, top_root, 1.0)]
    preds = [guess for _ in units]
    out = score(units, preds)
    out.pop("root_pairs")
    return out


def evaluate_file(path: Path, code: Callable[[CleanArticle], list[CodedEvent]]) -> dict[str, Any]:
    """Scores of one labeled file, overall and by language, with baselines."""
    units = read_units(path)
    preds = [predict(code, u) for u in units]
    overall = score(units, preds)
    root_pairs = overall.pop("root_pairs")
    by_lang: dict[str, Any] = {}
    for lang in sorted({u.lang for u in units}):
        idx = [i for i, u in enumerate(units) if u.lang == lang]
        sub = score([units[i] for i in idx], [preds[i] for i in idx])
        sub.pop("root_pairs")
        by_lang[lang] = {"texts": len(idx), **sub}
    return {
        "rows": count_rows(path),
        "texts": len(units),
        **overall,
        "baseline": baseline(units),
        "by_lang": by_lang,
        "confusion": [list(p) for p in root_pairs],
    }


def evaluate_files(
    paths: Iterable[Path], code: Callable[[CleanArticle], list[CodedEvent]]
) -> dict[str, Any]:
    """``{"files": {name: scores}}`` for every file."""
    return {"files": {p.name: evaluate_file(p, code) for p in paths}}
