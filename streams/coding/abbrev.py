"""One-character state abbreviations in Chinese, Japanese and Korean compounds.

News in these languages names pairs (and triples) of states by joining one-character
abbreviations: zh 中俄 / 美韩 / 中日韩, ja 日米 / 米中 / 露朝, ko 북러 / 한미일.  This module
loads configs/actors/abbreviations.yaml and finds such compounds as spans, one span per
member character, so the coder can add each as an actor mention of its state.

Pure functions, no coder import: ``load_abbreviations(path) -> AbbrevTable`` and
``find_abbreviations(text, lang, table) -> [(start, end, iso3), ...]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams.coding.lexicon import ConfigError

KEYS = frozenset(
    {
        "max_states",
        "abbreviations",
        "compounds",
        "blockers",
        "blocker_patterns",
        "weak_after_ideograph",
        "weak_exempt",
        "weak_initial",
        "hazards",
        "relation_after",
        "relation_before",
        "particles",
        "needs_relation",
        "separators",
        "separated_not_before",
    }
)
_ISO3 = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class LangAbbrev:
    """The abbreviation rules of one language (one section of abbreviations.yaml)."""

    lang: str
    chars: Mapping[str, str]  # member character -> ISO-3
    compounds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> codes
    blockers: tuple[str, ...] = ()
    blocker_patterns: tuple[re.Pattern[str], ...] = ()
    weak_after_ideograph: frozenset[str] = frozenset()
    weak_exempt: frozenset[str] = frozenset()
    weak_initial: frozenset[str] = frozenset()
    hazards: tuple[str, ...] = ()
    relation_after: tuple[str, ...] = ()
    relation_before: tuple[str, ...] = ()
    particles: frozenset[str] = frozenset()
    needs_relation: frozenset[str] = frozenset()
    separators: frozenset[str] = frozenset()
    separated_not_before: tuple[str, ...] = ()
    max_states: int = 4

    # Every character that can be part of a compound (chars and compound keys).
    members: frozenset[str] = field(init=False, repr=False, compare=False)
    # Members side by side (or one separator apart), as long as they go: a text without such
    # a chain has no compound, and only the members in chains can be part of one.
    chain_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    # One weak character: found by a C scan instead of a loop per character.
    weak_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    # Member character -> offset of it in blockers -> those blockers: the blockers that can
    # hold a member at a position, tried with one C call per offset.
    blockers_holding: Mapping[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(
        init=False, repr=False, compare=False
    )
    relation_by_first: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    hazards_by_first: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    hazard_reach: int = field(init=False, repr=False, compare=False)  # the longest hazard

    def __post_init__(self) -> None:
        members = frozenset(self.chars) | frozenset("".join(self.compounds))
        object.__setattr__(self, "members", members)
        mem = "".join(sorted(re.escape(c) for c in members))
        sep = "".join(sorted(re.escape(c) for c in self.separators))
        pat = re.compile(f"[{mem}](?:[{sep}]?[{mem}])+" if sep else f"[{mem}]{{2,}}")
        object.__setattr__(self, "chain_re", pat)
        weak = "".join(sorted(re.escape(c) for c in self.weak_after_ideograph))
        object.__setattr__(self, "weak_re", re.compile(f"[{weak}]") if weak else None)
        holding: dict[str, dict[int, list[str]]] = {}
        for blocker in self.blockers:
            for offset, ch in enumerate(blocker):
                if ch in members:
                    holding.setdefault(ch, {}).setdefault(offset, []).append(blocker)
        object.__setattr__(
            self,
            "blockers_holding",
            {
                ch: tuple((off, tuple(words)) for off, words in sorted(by_offset.items()))
                for ch, by_offset in holding.items()
            },
        )
        by_first = _by_first(self.relation_after)
        object.__setattr__(self, "relation_by_first", by_first)
        object.__setattr__(self, "hazards_by_first", _by_first(self.hazards))
        object.__setattr__(self, "hazard_reach", max(map(len, self.hazards), default=0))


def _by_first(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Words by their first character: the few that can start at a position, in order."""
    by_first: dict[str, list[str]] = {}
    for word in words:
        by_first.setdefault(word[0], []).append(word)
    return {k: tuple(v) for k, v in by_first.items()}


def _starts_with_any(text: str, at: int, by_first: Mapping[str, tuple[str, ...]]) -> bool:
    """One of the words starts at ``at`` (only those with the character there are tried)."""
    return at < len(text) and any(text.startswith(w, at) for w in by_first.get(text[at], ()))


@dataclass(frozen=True)
class AbbrevTable:
    """Abbreviation rules by language code (zh, ja, ko)."""

    langs: Mapping[str, LangAbbrev] = field(default_factory=dict)


# ----------------------------------------------------------------------------- loading


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _chars(value: Any, where: str) -> tuple[str, ...]:
    out = _strs(value, where)
    for ch in out:
        if len(ch) != 1:
            raise ConfigError(f"{where}: {ch!r} must be a single character")
    return out


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ISO3.match(value):
        raise ConfigError(f"{where}: {value!r} is not an ISO 3166-1 alpha-3 code")
    return value


def _lang_section(lang: str, data: Any, path: Path) -> LangAbbrev:
    where = f"{path}: {lang}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(map(str, unknown))}")
    abbr = data.get("abbreviations")
    if not isinstance(abbr, dict) or not abbr:
        raise ConfigError(f"{where}.abbreviations: expected a mapping of ISO-3 to characters")
    chars: dict[str, str] = {}
    for code, val in abbr.items():
        code = _code(code, f"{where}.abbreviations")
        vals = [val] if isinstance(val, str) else val
        for ch in _chars(vals, f"{where}.abbreviations.{code}"):
            if ch in chars and chars[ch] != code:
                raise ConfigError(
                    f"{where}.abbreviations: {ch!r} used for both {chars[ch]} and {code}"
                )
            chars[ch] = code
    compounds: dict[str, tuple[str, ...]] = {}
    for key, codes in (data.get("compounds") or {}).items():
        w = f"{where}.compounds.{key}"
        if not isinstance(key, str) or not isinstance(codes, list) or len(codes) != len(key):
            raise ConfigError(f"{w}: expected one ISO-3 code per character")
        compounds[key] = tuple(_code(c, w) for c in codes)
    patterns: list[re.Pattern[str]] = []
    for pat in _strs(data.get("blocker_patterns"), f"{where}.blocker_patterns"):
        try:
            patterns.append(re.compile(pat))
        except re.error as exc:
            raise ConfigError(f"{where}.blocker_patterns: {pat!r}: {exc}") from exc
    max_states = data.get("max_states", 4)
    if not isinstance(max_states, int) or isinstance(max_states, bool) or max_states < 2:
        raise ConfigError(f"{where}.max_states: expected an integer >= 2")
    return LangAbbrev(
        lang=lang,
        chars=chars,
        compounds=compounds,
        blockers=_strs(data.get("blockers"), f"{where}.blockers"),
        blocker_patterns=tuple(patterns),
        weak_after_ideograph=frozenset(
            _chars(data.get("weak_after_ideograph"), f"{where}.weak_after_ideograph")
        ),
        weak_exempt=frozenset(_chars(data.get("weak_exempt"), f"{where}.weak_exempt")),
        weak_initial=frozenset(_chars(data.get("weak_initial"), f"{where}.weak_initial")),
        hazards=_strs(data.get("hazards"), f"{where}.hazards"),
        relation_after=_strs(data.get("relation_after"), f"{where}.relation_after"),
        relation_before=_strs(data.get("relation_before"), f"{where}.relation_before"),
        particles=frozenset(_strs(data.get("particles"), f"{where}.particles")),
        needs_relation=frozenset(_strs(data.get("needs_relation"), f"{where}.needs_relation")),
        separators=frozenset(_chars(data.get("separators"), f"{where}.separators")),
        separated_not_before=_strs(
            data.get("separated_not_before"), f"{where}.separated_not_before"
        ),
        max_states=max_states,
    )


def load_abbreviations(path: Path) -> AbbrevTable:
    """Read and validate configs/actors/abbreviations.yaml."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of language to abbreviation rules")
    return AbbrevTable(
        {str(lang): _lang_section(str(lang), sec, path) for lang, sec in data.items()}
    )


# ----------------------------------------------------------------------------- matching


def _is_ideograph(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _is_katakana(ch: str) -> bool:
    # U+30FB (・) is a separator, not a letter.
    return ("\u30a1" <= ch <= "\u30fa") or ch == "\u30fc" or ("\uff66" <= ch <= "\uff9f")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _occurrences(text: str, word: str) -> list[int]:
    out = []
    i = text.find(word)
    while i >= 0:
        out.append(i)
        i = text.find(word, i + 1)
    return out


def _linked(text: str, rules: LangAbbrev) -> list[int]:
    """The member positions next to another member (or one separator from it), in order.

    Only these can be part of a compound: a member standing alone (中 of 中国, 日 of 今日,
    most of the members in a text) is a run of one, which never is.
    """
    members = rules.members
    return [
        p
        for m in rules.chain_re.finditer(text)
        for p in range(m.start(), m.end())
        if text[p] in members
    ]


def _masked(text: str, rules: LangAbbrev, candidates: list[int]) -> set[int]:
    """Which of the candidate positions are not abbreviations (blockers, dates, weak).

    Weak: characters after an ideograph. Only the blockers that hold a candidate's
    character are tried, where they would hold it (a scan of the whole text for every
    blocker cost as much as the rest together).
    """
    members = rules.members
    masked: set[int] = set()
    seen: set[tuple[int, int]] = set()
    for p in candidates:
        for offset, group in rules.blockers_holding.get(text[p], ()):
            b0 = p - offset
            if b0 < 0 or not text.startswith(group, b0):  # (one C call for the group)
                continue
            for blocker in group:
                b1 = b0 + len(blocker)
                if not text.startswith(blocker, b0) or (b0, b1) in seen:
                    continue
                seen.add((b0, b1))
                # A relation word that starts inside the blocker and runs past it wins
                # (中美元首: 元首, not 美元).
                if any(
                    text.startswith(rel, q) and q + len(rel) >= b1
                    for q in range(b0 + 1, b1)
                    for rel in rules.relation_by_first.get(text[q], ())
                ):
                    continue
                masked.update(q for q in range(b0, b1) if text[q] in members)
    for pat in rules.blocker_patterns:
        for m in pat.finditer(text):
            masked.update(range(m.start(), m.end()))
    if rules.weak_re is not None:
        for p in candidates:
            if p > 0 and rules.weak_re.match(text, p):
                prev = text[p - 1]
                if _is_ideograph(prev) and prev not in members and prev not in rules.weak_exempt:
                    masked.add(p)
    return masked


def _hazard(text: str, start: int, end: int, rules: LangAbbrev) -> bool:
    """A hazard covers the whole compound or runs past it (a hazard inside a longer one is fine)."""
    for h0 in range(max(0, start - rules.hazard_reach), end):
        for h in rules.hazards_by_first.get(text[h0], ()):
            if not text.startswith(h, h0):
                continue
            h1 = h0 + len(h)
            if h1 <= start:
                continue
            if h0 >= start and h1 <= end and h1 - h0 < end - start:
                continue
            return True
    return False


@dataclass
class _Run:
    positions: list[int]
    separated: bool

    @property
    def start(self) -> int:
        return self.positions[0]

    @property
    def end(self) -> int:
        return self.positions[-1] + 1


def _runs(text: str, rules: LangAbbrev, ok: set[int], start_ok: set[int] | None) -> list[_Run]:
    """Maximal runs of member positions, adjacent or one separator apart."""
    runs: list[_Run] = []
    n = len(text)
    q = 0  # the end of the last run: positions before it belong to a run already
    for p in sorted(ok):
        if p < q or (start_ok is not None and p not in start_ok):
            continue
        run = _Run([p], False)
        q = p + 1
        while True:
            if q in ok:
                run.positions.append(q)
                q += 1
            elif q + 1 < n and text[q] in rules.separators and q + 1 in ok:
                run.separated = True
                run.positions.append(q + 1)
                q += 2
            else:
                break
        runs.append(run)
    return runs


def _codes(text: str, positions: list[int], rules: LangAbbrev) -> list[str] | None:
    """Codes of a run's members, or None when the run is not a valid compound."""
    key = "".join(text[p] for p in positions)
    if key in rules.compounds:
        return list(rules.compounds[key])
    if not all(ch in rules.chars for ch in key):
        return None
    codes = [rules.chars[ch] for ch in key]
    if len(set(codes)) != len(codes):
        return None
    return codes


def _compound_codes(text: str, positions: list[int], rules: LangAbbrev) -> list[str] | None:
    """Codes of a run that is a compound: 2 to max_states members, valid, no hazard."""
    if not 2 <= len(positions) <= rules.max_states:
        return None
    codes = _codes(text, positions, rules)
    if codes is None or _hazard(text, positions[0], positions[-1] + 1, rules):
        return None
    return codes


def _emit(positions: list[int], codes: list[str]) -> list[tuple[int, int, str]]:
    return [(p, p + 1, c) for p, c in zip(positions, codes, strict=True)]


def _find_han(text: str, rules: LangAbbrev) -> list[tuple[int, int, str]]:
    linked = _linked(text, rules)
    masked = _masked(text, rules, linked)
    ok = set()
    for p in linked:
        ch = text[p]
        if p in masked:
            continue
        # A katakana member (日ロ) counts only where no other katakana touches it (テロ).
        if _is_katakana(ch) and (
            (p > 0 and _is_katakana(text[p - 1]))
            or (p + 1 < len(text) and _is_katakana(text[p + 1]))
        ):
            continue
        ok.add(p)
    out: list[tuple[int, int, str]] = []
    for run in _runs(text, rules, ok, None):
        pos = run.positions
        if len(pos) >= 3 and text[pos[0]] in rules.weak_initial:
            pos = pos[1:]
        codes = _compound_codes(text, pos, rules)
        if codes is None:
            continue
        start, end = pos[0], pos[-1] + 1
        if run.separated:
            if any(text.startswith(w, end) for w in rules.separated_not_before):
                continue
        elif not (
            _starts_with_any(text, end, rules.relation_by_first)
            or any(text.endswith(w, 0, start) for w in rules.relation_before)
        ):
            continue
        out.extend(_emit(pos, codes))
    return out


def _find_ko(text: str, rules: LangAbbrev) -> list[tuple[int, int, str]]:
    linked = _linked(text, rules)
    masked = _masked(text, rules, linked)
    ok = set(linked)
    word_start = {p for p in ok if p == 0 or not (_is_hangul(text[p - 1]) or text[p - 1].isalnum())}
    out: list[tuple[int, int, str]] = []
    for run in _runs(text, rules, ok, word_start):
        pos = run.positions
        key = "".join(text[p] for p in pos)
        # An explicit compound (남북한, 러우) wins; else cut the run at the first member
        # that belongs to a full name or another blocker (북한, 한국, 일본).
        explicit = max((k for k in rules.compounds if key.startswith(k)), key=len, default=None)
        if explicit is not None:
            pos = pos[: len(explicit)]
        else:
            cut = next((i for i, p in enumerate(pos) if p in masked), len(pos))
            pos = pos[:cut]
        codes = _compound_codes(text, pos, rules)
        if codes is None:
            continue
        start, end = pos[0], pos[-1] + 1
        rest_end = end
        while rest_end < len(text) and _is_hangul(text[rest_end]):
            rest_end += 1
        rest = text[end:rest_end]
        separated = any(text[p] in rules.separators for p in range(start, end))
        compound = "".join(text[p] for p in pos)
        if separated:
            if any(rest.startswith(w) for w in rules.separated_not_before):
                continue
            if (
                rest
                and rest not in rules.particles
                and not _starts_with_any(rest, 0, rules.relation_by_first)
            ):
                continue
        elif rest:
            if not (
                _starts_with_any(rest, 0, rules.relation_by_first)
                or (rest in rules.particles and compound not in rules.needs_relation)
            ):
                continue
        else:
            nxt = text[rest_end:].lstrip()
            if not _starts_with_any(nxt, 0, rules.relation_by_first):
                continue
        out.extend(_emit(pos, codes))
    return out


def find_abbreviations(text: str, lang: str, table: AbbrevTable) -> list[tuple[int, int, str]]:
    """Abbreviation members of state compounds in ``text``: (start, end, ISO-3), sorted.

    One span per member character of each compound that names two or more different
    states (中俄关系 gives 中 CHN and 俄 RUS).  Languages without a section give [].
    """
    rules = table.langs.get(lang)
    if rules is None or not text or not rules.chain_re.search(text):
        return []
    spans = _find_ko(text, rules) if lang == "ko" else _find_han(text, rules)
    return sorted(set(spans))
