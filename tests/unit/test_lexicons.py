"""Data checks for the coder's CAMEO table (configs/cameo.yaml) and trigger lexicons
(configs/lexicons/<lang>.yaml). Plain YAML loading, no coder import, no network."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
LEXICON_DIR = CONFIGS / "lexicons"

REQUIRED_LANGS = {
    "en", "id", "ko", "ru", "ar", "zh", "es", "ja", "fr", "de", "pt", "tr", "fa", "hi", "vi", "uk",
}
MAJOR_LANGS = {"en", "es", "ar", "id", "ru", "ko", "zh", "ja", "fr", "de", "pt", "tr"}
REQUIRED_CODES = (
    "010 020 030 036 040 041 042 043 044 045 046 050 051 057 060 061 062 063 064 070 071 072 073 "
    "074 075 080 081 090 100 110 111 112 114 120 130 131 138 140 141 150 152 154 160 161 163 170 "
    "173 180 181 182 183 190 193 194 195 200"
).split()
# Codes every lexicon must cover: visits and meetings, agreements, cooperation, aid,
# disapproval, threats, force posture, sanctions and fighting.
CORE_CODES = ("040", "042", "043", "057", "111", "112", "163", "190")
SCRIPTS = {"latin", "cyrillic", "arabic", "hangul", "han", "kana", "devanagari", "other"}
PLOVER = {
    "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "COOPERATE", "AID", "RETREAT", "REQUEST", "DEMAND",
    "ACCUSE", "DISAPPROVE", "REJECT", "THREATEN", "PROTEST", "MOBILIZE", "SANCTION", "COERCE",
    "ASSAULT", "FIGHT", "INVESTIGATE", "OTHER",
}
# A few anchor weights of the standard CAMEO Goldstein scale.
GOLDSTEIN_ANCHORS = {
    "010": 0.0, "036": 4.0, "040": 1.0, "042": 1.9, "043": 2.8, "046": 7.0, "057": 8.0, "062": 7.4,
    "072": 8.3, "111": -2.0, "130": -4.4, "163": -8.0, "173": -5.0, "190": -10.0, "195": -10.0,
}
CODE_RE = re.compile(r"^(0[1-9]|1[0-9]|20)[0-9]{0,2}$")


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _quad(root: str) -> int:
    r = int(root)
    return 1 if r <= 5 else 2 if r <= 8 else 3 if r <= 13 else 4


@pytest.fixture(scope="module")
def codes() -> dict[str, dict[str, Any]]:
    data = _load(CONFIGS / "cameo.yaml")
    assert isinstance(data, dict) and isinstance(data.get("codes"), dict)
    return data["codes"]


LEXICON_PATHS = sorted(LEXICON_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def lexicons() -> dict[str, dict[str, Any]]:
    return {p.stem: _load(p) for p in LEXICON_PATHS}


# --- cameo.yaml ----------------------------------------------------------------------------


def test_code_keys_are_strings(codes: dict[str, dict[str, Any]]) -> None:
    for code in codes:
        assert isinstance(code, str), f"code {code!r} must be quoted (leading zeros)"
        assert CODE_RE.match(code), f"malformed CAMEO code {code!r}"


def test_code_rows_have_fields(codes: dict[str, dict[str, Any]]) -> None:
    for code, row in codes.items():
        assert isinstance(row, dict), code
        assert isinstance(row.get("name"), str) and row["name"].strip(), code
        assert isinstance(row.get("root"), str), code
        assert isinstance(row.get("quad_class"), int) and not isinstance(row["quad_class"], bool), code
        assert isinstance(row.get("goldstein"), (int, float)), code
        assert isinstance(row.get("plover"), str) and row["plover"] in PLOVER, (code, row.get("plover"))


def test_all_roots_present(codes: dict[str, dict[str, Any]]) -> None:
    for r in range(1, 21):
        assert f"{r:02d}" in codes, f"root {r:02d} missing"


def test_required_codes_present(codes: dict[str, dict[str, Any]]) -> None:
    missing = [c for c in REQUIRED_CODES if c not in codes]
    assert not missing, f"missing codes: {missing}"


def test_roots_consistent(codes: dict[str, dict[str, Any]]) -> None:
    for code, row in codes.items():
        assert row["root"] == code[:2], f"{code}: root {row['root']} != {code[:2]}"
        assert row["root"] in codes, f"{code}: root {row['root']} not in table"


def test_quad_class_follows_root(codes: dict[str, dict[str, Any]]) -> None:
    for code, row in codes.items():
        assert row["quad_class"] == _quad(row["root"]), f"{code}: quad_class {row['quad_class']}"


def test_goldstein_range_and_sign(codes: dict[str, dict[str, Any]]) -> None:
    for code, row in codes.items():
        g = float(row["goldstein"])
        assert -10.0 <= g <= 10.0, f"{code}: goldstein {g}"
        if int(row["root"]) >= 14:  # material conflict is never scored as cooperation
            assert g < 0, f"{code}: goldstein {g} for material conflict"
        if 6 <= int(row["root"]) <= 8:
            assert g > 0, f"{code}: goldstein {g} for material cooperation"


def test_goldstein_anchor_values(codes: dict[str, dict[str, Any]]) -> None:
    for code, want in GOLDSTEIN_ANCHORS.items():
        assert float(codes[code]["goldstein"]) == pytest.approx(want), code


# --- lexicons ------------------------------------------------------------------------------


def test_required_languages_present() -> None:
    present = {p.stem for p in LEXICON_PATHS}
    missing = REQUIRED_LANGS - present
    assert not missing, f"missing lexicons: {sorted(missing)}"


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_lexicon_structure(path: Path) -> None:
    lex = _load(path)
    assert isinstance(lex, dict), path
    assert lex.get("lang") == path.stem, f"{path.name}: lang {lex.get('lang')!r}"
    assert lex.get("script") in SCRIPTS, f"{path.name}: script {lex.get('script')!r}"
    assert isinstance(lex.get("spaces"), bool), f"{path.name}: spaces must be true/false"
    if "word_order" in lex:
        assert lex["word_order"] in {"svo", "sov", "vso"}, path.name
    assert isinstance(lex.get("triggers"), dict) and lex["triggers"], f"{path.name}: no triggers"
    for key in ("negation", "speculation", "future"):
        assert isinstance(lex.get(key), list) and lex[key], f"{path.name}: {key} missing/empty"
    morph = lex.get("morphology")
    assert isinstance(morph, dict), f"{path.name}: morphology missing"
    for key in ("prefixes", "suffixes"):
        assert isinstance(morph.get(key), list), f"{path.name}: morphology.{key} must be a list"


def _phrase_problems(phrase: Any) -> list[str]:
    if not isinstance(phrase, str):
        return [f"{phrase!r} is not a string (quote it: YAML reads no/yes/on as booleans)"]
    out = []
    if not phrase.strip():
        out.append("empty phrase")
    if phrase != phrase.strip():
        out.append(f"{phrase!r} has surrounding whitespace")
    if phrase != phrase.casefold():
        out.append(f"{phrase!r} is not casefolded ({phrase.casefold()!r})")
    if "*" in phrase.rstrip("*") or phrase.endswith("**"):
        out.append(f"{phrase!r}: '*' only as the last character")
    if phrase.rstrip("*") != phrase.rstrip("*").strip():
        out.append(f"{phrase!r}: space before '*'")
    if "  " in phrase or "\t" in phrase or "\n" in phrase:
        out.append(f"{phrase!r}: words must be separated by single spaces")
    return out


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_trigger_phrases_well_formed(path: Path, codes: dict[str, dict[str, Any]]) -> None:
    lex = _load(path)
    problems: list[str] = []
    for code, phrases in lex["triggers"].items():
        if not isinstance(code, str):
            problems.append(f"code {code!r} must be a quoted string")
            continue
        if code not in codes:
            problems.append(f"code {code} not in cameo.yaml")
        if not isinstance(phrases, list) or not phrases:
            problems.append(f"{code}: expected a non-empty list")
            continue
        for phrase in phrases:
            problems += [f"{code}: {p}" for p in _phrase_problems(phrase)]
        strs = [p for p in phrases if isinstance(p, str)]
        dups = sorted({p for p in strs if strs.count(p) > 1})
        if dups:
            problems.append(f"{code}: duplicate phrases {dups}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_no_phrase_under_two_codes(path: Path) -> None:
    """The same phrase under two codes would make the coder's choice arbitrary."""
    lex = _load(path)
    seen: dict[str, str] = {}
    clashes = []
    for code, phrases in lex["triggers"].items():
        for phrase in phrases:
            key = " ".join(str(phrase).split())
            if key in seen and seen[key] != code:
                clashes.append(f"{phrase!r}: {seen[key]} and {code}")
            seen.setdefault(key, code)
    assert not clashes, f"{path.name}:\n" + "\n".join(clashes)


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_cue_and_affix_lists_well_formed(path: Path) -> None:
    lex = _load(path)
    problems: list[str] = []
    for key in ("negation", "speculation", "future"):
        items = lex[key]
        for phrase in items:
            problems += [f"{key}: {p}" for p in _phrase_problems(phrase)]
        dups = sorted({p for p in items if items.count(p) > 1})
        if dups:
            problems.append(f"{key}: duplicates {dups}")
    for key in ("prefixes", "suffixes"):
        for affix in lex["morphology"][key]:
            if not isinstance(affix, str) or not affix.strip() or affix != affix.strip():
                problems.append(f"morphology.{key}: bad affix {affix!r}")
            elif affix != affix.casefold():
                problems.append(f"morphology.{key}: {affix!r} is not casefolded")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_cues_are_not_triggers(path: Path) -> None:
    """A cue that is also a trigger would cancel or re-code the very event it names."""
    lex = _load(path)
    triggers = {str(p) for phrases in lex["triggers"].values() for p in phrases}
    cues = set(lex["negation"]) | set(lex["speculation"]) | set(lex["future"])
    both = sorted(triggers & cues)
    assert not both, f"{path.name}: phrases both trigger and cue: {both}"


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_core_codes_covered(path: Path) -> None:
    lex = _load(path)
    missing = [c for c in CORE_CODES if c not in lex["triggers"]]
    assert not missing, f"{path.name}: no triggers for {missing}"


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_trigger_volume(path: Path) -> None:
    lex = _load(path)
    n = sum(len(v) for v in lex["triggers"].values())
    floor = 150 if path.stem in MAJOR_LANGS else 80
    if path.stem in REQUIRED_LANGS:
        assert n >= floor, f"{path.name}: only {n} trigger phrases (want >= {floor})"
    roots = {str(code)[:2] for code in lex["triggers"]}
    assert len(roots) >= 15, f"{path.name}: triggers cover only roots {sorted(roots)}"


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_unspaced_scripts_declared(path: Path) -> None:
    lex = _load(path)
    if lex["lang"] in {"zh", "ja"}:
        assert lex["spaces"] is False, f"{path.name}: {lex['lang']} has no word spaces"
    if lex["lang"] == "ko":
        assert lex["script"] == "hangul" and lex["spaces"] is True


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_no_german_sharp_s_trap(path: Path) -> None:
    """casefold() turns ß into ss, so a trigger can never contain ß; German forms with ß
    must be cut before it and starred ("zusammenstö*") or spelt with ss."""
    lex = _load(path)
    bad = [p for ps in lex["triggers"].values() for p in ps if "ß" in str(p)]
    assert not bad, f"{path.name}: {bad}"


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in ("L", "M", "N")


def _cue_occurs_in(cue: str, phrase: str, anywhere: bool) -> bool:
    """Whether a cue would be found inside a trigger phrase under the coder's word rules."""
    key, star = cue.rstrip("*"), cue.endswith("*")
    start = phrase.find(key)
    while start != -1:
        end = start + len(key)
        left = anywhere or start == 0 or not _is_word_char(phrase[start - 1])
        right = anywhere or star or end == len(phrase) or not _is_word_char(phrase[end])
        if left and right:
            return True
        start = phrase.find(key, start + 1)
    return False


@pytest.mark.parametrize("path", LEXICON_PATHS, ids=lambda p: p.stem)
def test_negation_cue_not_inside_trigger(path: Path) -> None:
    """A negation cue found inside a trigger cancels that trigger's every event
    (e.g. cue "denied" inside trigger "denied entry")."""
    lex = _load(path)
    anywhere = lex["spaces"] is False or lex["script"] == "hangul"
    bad = [
        f"{code}: {phrase!r} contains negation cue {cue!r}"
        for code, phrases in lex["triggers"].items()
        for phrase in phrases
        for cue in lex["negation"]
        if _cue_occurs_in(cue, str(phrase).rstrip("*"), anywhere)
    ]
    assert not bad, f"{path.name}:\n" + "\n".join(bad)
