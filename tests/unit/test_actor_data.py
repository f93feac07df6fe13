"""Checks for the hand-kept actor data in configs/actors/.

countries.yaml / igos.yaml : actor code -> list of alias entries
    {kind, role, names: {lang: [name, ...]}, case_sensitive?: [name, ...]}
ambiguous.yaml             : stop / case_sensitive / needs_context per language
                             (the zh/ja/ko one-character abbreviations live in
                             abbreviations.yaml, checked by test_abbrev.py).

Country names themselves come from CLDR through Babel; these files add only what
CLDR lacks, so several checks compare against Babel's territory names too.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import babel
import pycountry
import pytest
import yaml
from babel.core import get_global

ROOT = Path(__file__).resolve().parents[2]
ACTOR_DIR = ROOT / "configs" / "actors"

KINDS = {
    "capital", "leader", "official", "ministry", "military", "agency",
    "demonym", "short_name", "parliament",
}
ROLES = {"GOV", "MIL", "MED", "LEG", ""}
IGO_CODES = {
    "UN", "IAEA", "NATO", "EU", "ASEAN", "AU", "OPEC", "SCO", "BRICS", "WHO",
    "IMF", "WORLDBANK", "G7", "G20", "OSCE", "ARL", "GCC", "OIC", "ICC", "WTO",
    "CSTO", "EAEU",
}
# Acronyms that are ordinary words once casefolded; the coder matches them in exact case.
IGO_CASE_SENSITIVE_REQUIRED = {"AU", "EU", "UN", "WHO", "ICC"}
# CLDR territory codes that are IGOs, not countries.
CLDR_IGO_TERRITORIES = {"EU": "EU", "UN": "UN"}

LANGS = ["en", "id", "ko", "ru", "uk", "ar", "fa", "zh", "ja", "es", "fr", "de",
         "pt", "tr", "hi", "vi"]
WATCHED = (
    "PRK IRN RUS CHN KOR USA JPN UKR ISR SYR IRQ SAU TUR PAK IND BLR VEN CUB PSE "
    "LBN YEM AFG EGY QAT ARE GBR FRA DEU ITA CAN AUS BRA MEX ARG ZAF IDN MNG VNM KAZ"
).split()
CORE = ["PRK", "IRN", "RUS", "CHN", "KOR", "USA", "JPN", "UKR", "ISR"]

AMBIGUOUS_KEYS = {"stop", "case_sensitive", "needs_context"}


# --------------------------------------------------------------------------- helpers

@functools.cache
def load(name: str):
    with open(ACTOR_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


ACTOR_FILES = ["countries.yaml", "igos.yaml", "former_leaders.yaml", "recent_leaders.yaml"]


def actor_docs():
    return {name: load(name) for name in ACTOR_FILES}


@functools.cache
def is_latin(lang: str) -> bool:
    tag = get_global("likely_subtags").get(lang) or get_global("likely_subtags").get(
        lang.split("_")[0], "")
    return "_Latn" in tag


_AR_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_MAP = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ی": "ي", "ى": "ي",
                         "ک": "ك", "ە": "ه", "ۀ": "ه", "ة": "ه"})


def light(s: str) -> str:
    """Exact identity as the coder sees it (NFC + casefold)."""
    return unicodedata.normalize("NFC", s).casefold().strip()


def heavy(s: str) -> str:
    """Aggressive normalisation: what a tolerant matcher could conflate."""
    s = unicodedata.normalize("NFKC", s).casefold()
    s = _AR_MARKS.sub("", s).translate(_AR_MAP)
    s = s.replace("\u093c", "")            # Devanagari nukta
    s = s.replace("\u200c", " ").replace("\u200d", "")   # ZWNJ / ZWJ
    s = s.replace("ʼ", "'").replace("’", "'")
    return re.sub(r"\s+", " ", s).strip()


def iter_names(doc):
    """Yield (actor, entry_index, lang, name) for every name in an actor document."""
    for actor, entries in doc.items():
        for i, entry in enumerate(entries):
            for lang, names in entry["names"].items():
                for name in names:
                    yield actor, i, lang, name


def data_langs(docs) -> set[str]:
    langs = set(LANGS)
    for doc in docs:
        for _, _, lang, _ in iter_names(doc):
            if lang != "*":
                langs.add(lang)
    return langs


def expand(lang: str, all_langs) -> list[str]:
    """'*' stands for every Latin-script language."""
    if lang == "*":
        return sorted(l for l in all_langs if is_latin(l))
    return [lang]


@functools.cache
def cldr_names(lang: str) -> dict[str, set[str]]:
    """heavy-normalised CLDR territory name -> actor codes, for one language."""
    out: dict[str, set[str]] = defaultdict(set)
    try:
        terr = babel.Locale.parse(lang).territories
    except Exception:  # pragma: no cover - language keys are checked elsewhere
        return {}
    for code, name in terr.items():
        if code in CLDR_IGO_TERRITORIES:
            actor = CLDR_IGO_TERRITORIES[code]
        elif len(code) == 2 and code.isalpha():
            country = pycountry.countries.get(alpha_2=code)
            if country is None:
                continue
            actor = country.alpha_3
        else:
            continue
        out[heavy(name)].add(actor)
    return out


def name_index(docs, with_cldr: bool):
    """(lang, heavy name) -> {actor: [where...]} with '*' expanded."""
    langs = data_langs(docs)
    idx: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for doc in docs:
        for actor, i, lang, name in iter_names(doc):
            for l in expand(lang, langs):
                idx[(l, heavy(name))][actor].append(f"{actor}[{i}].{lang}: {name!r}")
    if with_cldr:
        for l in langs:
            for n, actors in cldr_names(l).items():
                for a in actors:
                    idx[(l, n)][a].append(f"CLDR {l}: {n!r}")
    return idx


def find_collisions(docs, with_cldr: bool = True) -> list[str]:
    """Names (or stem prefixes) that point to two different actors in one language."""
    idx = name_index(docs, with_cldr)
    problems = []
    for (lang, name), actors in sorted(idx.items()):
        if len(actors) > 1:
            where = "; ".join(w for a in sorted(actors) for w in actors[a][:2])
            problems.append(f"[{lang}] {name!r} -> {sorted(actors)} ({where})")
    # stems: 'iransk*' must not swallow another actor's name or stem
    by_lang: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for (lang, name), actors in idx.items():
        for a in actors:
            by_lang[lang].append((name, a, actors[a][0]))
    for lang, items in sorted(by_lang.items()):
        stems = [(n[:-1], a, w) for n, a, w in items if n.endswith("*")]
        for stem, a, w in stems:
            for other, b, w2 in items:
                if b == a:
                    continue
                if other.endswith("*"):
                    base = other[:-1]
                    clash = base.startswith(stem) or stem.startswith(base)
                else:
                    # A multi-word name is longer than the one word a stem can take, so
                    # longest-match resolves it; a one-token name (also hyphenated, e.g.
                    # "Französisch-Guayana") would be swallowed whole by the stem.
                    clash = " " not in other and other.startswith(stem)
                if clash:
                    problems.append(f"[{lang}] stem {stem + '*'!r} ({a}) overlaps {other!r} ({b}) ({w}; {w2})")
    return problems


def resolve(name: str, lang: str) -> set[str]:
    docs = list(actor_docs().values())
    idx = name_index(docs, with_cldr=False)
    return set(idx.get((lang, heavy(name)), {}).keys())


# --------------------------------------------------------------------------- structure

@pytest.mark.parametrize("fname", ACTOR_FILES)
def test_actor_file_structure(fname):
    doc = load(fname)
    assert isinstance(doc, dict) and doc, f"{fname}: top level must be a non-empty mapping"
    problems = []
    for actor, entries in doc.items():
        if not isinstance(actor, str):
            problems.append(f"{actor!r}: key is not a string")
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(f"{actor}: value must be a non-empty list of entries")
            continue
        for i, e in enumerate(entries):
            where = f"{actor}[{i}]"
            if not isinstance(e, dict):
                problems.append(f"{where}: entry is not a mapping")
                continue
            extra = set(e) - {"kind", "role", "names", "case_sensitive"}
            if extra:
                problems.append(f"{where}: unknown keys {sorted(extra)}")
            if e.get("kind") not in KINDS:
                problems.append(f"{where}: kind {e.get('kind')!r} not in {sorted(KINDS)}")
            if "role" not in e or e["role"] not in ROLES:
                problems.append(f"{where}: role {e.get('role')!r} not in {sorted(ROLES)}")
            names = e.get("names")
            if not isinstance(names, dict) or not names:
                problems.append(f"{where}: names must be a non-empty mapping")
                continue
            for lang, lst in names.items():
                if not isinstance(lang, str):
                    problems.append(f"{where}: language key {lang!r} is not a string")
                if not isinstance(lst, list) or not lst:
                    problems.append(f"{where}.{lang}: must be a non-empty list")
                    continue
                for n in lst:
                    if not isinstance(n, str):
                        problems.append(f"{where}.{lang}: {n!r} is not a string (quote it)")
                    elif not n.strip() or n != n.strip():
                        problems.append(f"{where}.{lang}: empty or padded name {n!r}")
                    elif "*" in n[:-1]:
                        problems.append(f"{where}.{lang}: '*' only allowed at the end: {n!r}")
                    elif n == "*":
                        problems.append(f"{where}.{lang}: bare '*'")
                    elif re.search(r"\s{2,}", n):
                        problems.append(f"{where}.{lang}: double space in {n!r}")
            cs = e.get("case_sensitive")
            if cs is not None:
                all_names = {n for lst in names.values() if isinstance(lst, list) for n in lst}
                if not isinstance(cs, list) or not cs:
                    problems.append(f"{where}: case_sensitive must be a non-empty list")
                else:
                    for n in cs:
                        if n not in all_names:
                            problems.append(f"{where}: case_sensitive {n!r} is not one of its names")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fname", ["countries.yaml", "former_leaders.yaml"])
def test_country_keys_are_iso_alpha3(fname):
    bad = [k for k in load(fname)
           if not (isinstance(k, str) and len(k) == 3 and k.isupper()
                   and pycountry.countries.get(alpha_3=k) is not None)]
    assert not bad, f"not ISO 3166-1 alpha-3 codes: {bad}"


def test_igo_keys_are_listed_codes():
    keys = set(load("igos.yaml"))
    assert keys <= IGO_CODES, f"unknown IGO codes: {sorted(keys - IGO_CODES)}"
    assert keys == IGO_CODES, f"IGOs missing: {sorted(IGO_CODES - keys)}"
    clash = [k for k in keys if pycountry.countries.get(alpha_3=k) is not None]
    assert not clash, f"IGO codes that are also country codes: {clash}"


def test_language_keys_known_to_babel():
    bad = set()
    for fname, doc in actor_docs().items():
        for actor, i, lang, _ in iter_names(doc):
            if lang == "*":
                continue
            try:
                babel.Locale.parse(lang)
            except Exception:
                bad.add(f"{fname}:{actor}[{i}] {lang!r}")
    amb = load("ambiguous.yaml")
    for section in ("stop", "case_sensitive", "needs_context"):
        for lang in (amb.get(section) or {}):
            if lang != "*":
                try:
                    babel.Locale.parse(lang)
                except Exception:
                    bad.add(f"ambiguous.yaml:{section} {lang!r}")
    assert not bad, f"language keys Babel does not know: {sorted(bad)}"


def test_no_duplicate_names_within_an_actor():
    """Redundant copies (also '*' + a Latin language) hide typos; keep one."""
    problems = []
    for fname, doc in actor_docs().items():
        langs = data_langs([doc])
        for actor, entries in doc.items():
            seen: dict[tuple[str, str], str] = {}
            for i, e in enumerate(entries):
                for lang, lst in e["names"].items():
                    for n in lst:
                        for l in expand(lang, langs):
                            key = (l, light(n))
                            here = f"[{i}].{lang}"
                            if key in seen:
                                problems.append(f"{fname}:{actor} {n!r} in {seen[key]} and {here}")
                            else:
                                seen[key] = here
    assert not problems, "\n".join(sorted(set(problems)))


def test_countries_do_not_repeat_cldr():
    """countries.yaml adds what CLDR lacks; an exact copy of the CLDR name is noise."""
    doc = load("countries.yaml")
    langs = data_langs([doc])
    problems = []
    for actor, i, lang, name in iter_names(doc):
        for l in expand(lang, langs):
            try:
                terr = babel.Locale.parse(l).territories
            except Exception:
                continue
            a2 = pycountry.countries.get(alpha_3=actor).alpha_2
            if a2 in terr and light(terr[a2]) == light(name):
                problems.append(f"{actor}[{i}].{lang}: {name!r} is CLDR's own {l} name")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- ambiguity

def test_collision_checker_detects_collisions():
    """The checker itself must be able to fail."""
    a = {"AAA": [{"kind": "capital", "role": "GOV", "names": {"*": ["Foo"], "ru": ["бар*"]}}],
         "BBB": [{"kind": "capital", "role": "GOV", "names": {"de": ["foo"], "ru": ["барабан"]}}]}
    found = find_collisions([a], with_cldr=False)
    assert any("'foo'" in p and "AAA" in p and "BBB" in p for p in found), found
    assert any("stem" in p and "барабан" in p for p in found), found
    b = {"AAA": [{"kind": "capital", "role": "GOV", "names": {"ar": ["عُمان"]}}],
         "BBB": [{"kind": "capital", "role": "GOV", "names": {"ar": ["عمان"]}}]}
    assert find_collisions([b], with_cldr=False), "diacritics must not hide a collision"
    ok = {"AAA": [{"kind": "capital", "role": "GOV", "names": {"*": ["Foo"], "ru": ["бар*"]}}]}
    assert not find_collisions([ok], with_cldr=False)


def test_no_name_points_to_two_actors():
    problems = find_collisions(list(actor_docs().values()), with_cldr=True)
    assert not problems, "names shared by different actors:\n" + "\n".join(problems)


def test_stop_list_does_not_cancel_own_names():
    amb = load("ambiguous.yaml")
    docs = list(actor_docs().values())
    idx = name_index(docs, with_cldr=False)
    langs = data_langs(docs)
    problems = []
    for lang, lst in (amb.get("stop") or {}).items():
        for n in lst:
            for l in expand(lang, langs):
                if (l, heavy(n)) in idx:
                    problems.append(f"stop[{lang}] {n!r} is also an actor name "
                                    f"{sorted(idx[(l, heavy(n))])}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("section", ["case_sensitive", "needs_context"])
def test_ambiguous_sections_refer_to_real_names(section):
    """An entry here only has an effect if CLDR or our data actually produces the name."""
    amb = load("ambiguous.yaml")
    docs = list(actor_docs().values())
    idx = name_index(docs, with_cldr=True)
    langs = data_langs(docs)
    problems = []
    for lang, lst in (amb.get(section) or {}).items():
        assert isinstance(lst, list) and lst, f"{section}[{lang}] must be a non-empty list"
        for n in lst:
            assert isinstance(n, str) and n.strip(), f"{section}[{lang}]: bad entry {n!r}"
            if not any((l, heavy(n)) in idx for l in expand(lang, langs)):
                problems.append(f"{section}[{lang}] {n!r} is not a name from CLDR or our data")
    assert not problems, "\n".join(problems)


def test_ambiguous_file_structure():
    amb = load("ambiguous.yaml")
    assert isinstance(amb, dict)
    assert set(amb) <= AMBIGUOUS_KEYS, f"unknown sections: {sorted(set(amb) - AMBIGUOUS_KEYS)}"
    assert "stop" in amb
    for section in ("stop", "case_sensitive", "needs_context"):
        for lang, lst in (amb.get(section) or {}).items():
            assert isinstance(lang, str)
            assert isinstance(lst, list) and lst, f"{section}[{lang}]"
            for n in lst:
                assert isinstance(n, str) and n.strip() and n == n.strip(), f"{section}[{lang}]: {n!r}"
                assert "*" not in n[:-1], f"{section}[{lang}]: '*' only at the end: {n!r}"
            dup = {light(n) for n in lst if [light(x) for x in lst].count(light(n)) > 1}
            assert not dup, f"{section}[{lang}] duplicates: {dup}"


# --------------------------------------------------------------------------- content

@pytest.mark.parametrize("name,lang,expected", [
    ("Pyongyang", "en", "PRK"),
    ("Pyongyang", "fr", "PRK"),
    ("Tehran", "en", "IRN"),
    ("Teheran", "en", "IRN"),
    ("Teheran", "de", "IRN"),
    ("Kremlin", "en", "RUS"),
    ("Kreml", "de", "RUS"),
    ("Beijing", "en", "CHN"),
    ("Seoul", "en", "KOR"),
    ("Washington", "en", "USA"),
    ("White House", "en", "USA"),
    ("평양", "ko", "PRK"),
    ("Пхеньян", "ru", "PRK"),
    ("طهران", "ar", "IRN"),
    ("تهران", "fa", "IRN"),
    ("平壤", "zh", "PRK"),
    ("Putin", "en", "RUS"),
    ("Kim Jong Un", "en", "PRK"),
    ("김정은", "ko", "PRK"),
    ("KCNA", "en", "PRK"),
    ("IRGC", "en", "IRN"),
    ("Zhongnanhai", "en", "CHN"),
    ("Downing Street", "en", "GBR"),
    ("DPRK", "en", "PRK"),
    ("Северная Корея", "ru", "PRK"),
    ("ROK", "en", "KOR"),
    ("한국", "ko", "KOR"),
    ("United Nations", "en", "UN"),
    ("ООН", "ru", "UN"),
    ("联合国", "zh", "UN"),
    ("PBB", "id", "UN"),
])
def test_key_names_resolve(name, lang, expected):
    assert resolve(name, lang) == {expected}, f"{name!r} [{lang}] -> {resolve(name, lang)}"


@pytest.mark.parametrize("name,lang,expected", [
    ("Korea Utara", "id", "PRK"),
    ("북한", "ko", "PRK"),
    ("北朝鮮", "ja", "PRK"),
    ("朝鲜", "zh", "PRK"),
    ("КНДР", "ru", "PRK"),
    ("韩国", "zh", "KOR"),
    ("미국", "ko", "USA"),
])
def test_base_names_come_from_cldr(name, lang, expected):
    """These are deliberately not repeated in countries.yaml: Babel must keep providing them."""
    assert cldr_names(lang).get(heavy(name)) == {expected}


def test_watched_states_have_core_kinds():
    doc = load("countries.yaml")
    problems = []
    for code in WATCHED:
        if code not in doc:
            problems.append(f"{code}: missing")
            continue
        kinds = {e["kind"] for e in doc[code]}
        for k in ("capital", "leader", "demonym"):
            if k not in kinds:
                problems.append(f"{code}: no {k} entry")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("code", CORE)
def test_core_capitals_in_every_language(code):
    doc = load("countries.yaml")
    langs = set()
    for e in doc[code]:
        if e["kind"] == "capital":
            for lang in e["names"]:
                langs.update(expand(lang, LANGS))
    missing = [l for l in LANGS if l not in langs]
    assert not missing, f"{code}: capital has no form for {missing}"


@pytest.mark.parametrize("code", CORE)
def test_core_leaders_in_main_scripts(code):
    doc = load("countries.yaml")
    langs = set()
    for e in doc[code]:
        if e["kind"] == "leader":
            for lang in e["names"]:
                langs.update(expand(lang, LANGS))
    missing = [l for l in ("en", "ru", "ar", "fa", "zh", "ja", "ko") if l not in langs]
    assert not missing, f"{code}: leader has no form for {missing}"


def test_igo_case_sensitive_acronyms():
    doc = load("igos.yaml")
    cs = {n for entries in doc.values() for e in entries for n in e.get("case_sensitive", [])}
    missing = IGO_CASE_SENSITIVE_REQUIRED - cs
    assert not missing, f"acronyms that must be case-sensitive: {sorted(missing)}"


def test_igo_roles_are_empty():
    bad = [f"{k}[{i}]" for k, entries in load("igos.yaml").items()
           for i, e in enumerate(entries) if e["role"] != ""]
    assert not bad, f"IGO entries must have role '': {bad}"


def test_role_matches_kind():
    expect = {"agency": {"MED", "GOV"}, "military": {"MIL"}, "parliament": {"LEG"},
              "demonym": {""}, "capital": {"GOV", ""}, "leader": {"GOV"},
              "ministry": {"GOV", "MIL"}, "official": {"GOV", "MIL", "LEG"},
              "short_name": {"", "GOV"}}
    bad = [f"{k}[{i}] kind={e['kind']} role={e['role']!r}"
           for k, entries in load("countries.yaml").items()
           for i, e in enumerate(entries) if e["role"] not in expect[e["kind"]]]
    assert not bad, "\n".join(bad)


def test_stems_only_on_demonyms():
    bad = [f"{k}[{i}] {n!r}" for k, entries in load("countries.yaml").items()
           for i, e in enumerate(entries) for lst in e["names"].values() for n in lst
           if n.endswith("*") and e["kind"] != "demonym"]
    assert not bad, f"'*' stems outside demonym entries: {bad}"
