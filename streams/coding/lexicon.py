"""Load the coder's knowledge from configs/, validated once per process.

CLDR names come via Babel; hand-kept actor YAML, CAMEO codes and per-language trigger lexicons
come from configs/.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from streams.coding.abbrev import AbbrevTable

log = logging.getLogger(__name__)

ROLES = frozenset({"", "GOV", "MIL", "MED", "LEG", "JUD", "COP", "OPP", "REB", "BUS", "CVL"})


class ConfigError(ValueError):
    """A config file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ActorRef:
    """What an actor name stands for."""

    code: str
    role: str = ""
    kind: str = "name"


@dataclass(frozen=True)
class CameoCode:
    """One CAMEO code with the scores derived from it."""

    code: str
    name: str
    root: str
    quad_class: int
    goldstein: float
    plover: str = ""


@dataclass(frozen=True)
class LanguageLexicon:
    """Trigger phrases and cue words of one language."""

    lang: str
    script: str
    spaces: bool
    word_order: str
    triggers: tuple[tuple[str, str], ...]  # (phrase, cameo code)
    negation: tuple[str, ...]
    speculation: tuple[str, ...]
    future: tuple[str, ...]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    # Words naming a kind of actor (police, troops, protesters) by CAMEO role code.
    roles: tuple[tuple[str, str], ...] = ()
    # Words that make the name right after them (prepositions) or right before them
    # (postpositions) a place, an origin or a region, not an actor: "in", "near", "di", "에서".
    place_before: tuple[str, ...] = ()
    place_after: tuple[str, ...] = ()
    # Words that make the name after them the agent of a passive verb: "by", "por", "oleh".
    agent_markers: tuple[str, ...] = ()
    # Particles after a verb-final language's subject or topic: が, は, 이, 가, ने.
    subject_markers: tuple[str, ...] = ()
    # Modals of obligation that open a demand trigger ("Libya must hand over"): the state
    # before them is the demand's target, the state before that (the speaker) its source.
    obligations: tuple[str, ...] = ()
    # Adjectives follow their noun ("la invasión rusa a Ucrania"): a demonym right after a
    # trigger is its agent.
    adjectives_follow: bool = False
    # Titles after a one-character family name that make it stand for the person named in
    # full before (김 위원장, 金総書記, 习主席); languages that write names as one word.
    titles: tuple[str, ...] = ()
    # Prepositions naming both parties of the event before them: "talks between X and Y",
    # "entre", "zwischen", "antara", "между", "بين".
    between: tuple[str, ...] = ()
    # Words that make the event after them background, not news: "amid the war", "since
    # the invasion", "di tengah perang". They cancel a trigger as speculation does.
    background: tuple[str, ...] = ()
    # Phrases that hold a trigger without being its event ("menduduki peringkat" ranks, it
    # does not occupy): the longer phrase wins the match and then counts for nothing.
    not_triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Boilerplate:
    """Line patterns that are never news: related links, bylines, copyright, share prompts."""

    patterns: tuple[re.Pattern[str], ...]


@dataclass
class Knowledge:
    """Everything the coder loads from configs/, in plain data."""

    names: list[tuple[str, ActorRef, str]] = field(default_factory=list)  # (name, ref, lang)
    case_sensitive: list[tuple[str, ActorRef, str]] = field(default_factory=list)
    stop: list[tuple[str, str]] = field(default_factory=list)  # (phrase, lang)
    exact_names: frozenset[tuple[str, str]] = frozenset()  # (name, lang): match case as written
    needs_context: frozenset[tuple[str, str]] = frozenset()  # (name, lang): only if confirmed
    codes: dict[str, CameoCode] = field(default_factory=dict)
    lexicons: dict[str, LanguageLexicon] = field(default_factory=dict)
    boilerplate: Boilerplate = field(default_factory=lambda: Boilerplate(()))
    # zh / ja / ko one-character state abbreviations (configs/actors/abbreviations.yaml).
    abbreviations: AbbrevTable | None = None


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            # libyaml's safe loader when PyYAML has it: the same documents, ten times faster
            return yaml.load(fh, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_codes(path: Path) -> dict[str, CameoCode]:
    """The CAMEO code table (configs/cameo.yaml)."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("codes"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'codes'")
    out: dict[str, CameoCode] = {}
    for code, row in data["codes"].items():
        code = str(code)
        try:
            out[code] = CameoCode(
                code=code,
                name=str(row["name"]),
                root=str(row.get("root", code[:2])),
                quad_class=int(row["quad_class"]),
                goldstein=float(row["goldstein"]),
                plover=str(row.get("plover", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: code {code}: {exc!r}") from exc
    return out


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(v for v in value if v.strip())


def load_lexicon(path: Path) -> LanguageLexicon:
    """One language's triggers and cues (configs/lexicons/<lang>.yaml)."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or "lang" not in data:
        raise ConfigError(f"{path}: expected a mapping with 'lang'")
    triggers: list[tuple[str, str]] = []
    for code, phrases in (data.get("triggers") or {}).items():
        for phrase in _str_list(phrases, f"{path}: triggers.{code}"):
            triggers.append((phrase, str(code)))
    morph = data.get("morphology") or {}
    lang = str(data["lang"])
    roles: list[tuple[str, str]] = []
    for role, phrases in (data.get("roles") or {}).items():
        if str(role) not in ROLES or not role:
            raise ConfigError(f"{path}: roles.{role}: unknown role code")
        roles.extend((phrase, str(role)) for phrase in _str_list(phrases, f"{path}: roles.{role}"))
    places = data.get("place_markers") or {}
    return LanguageLexicon(
        lang=lang,
        script=str(data.get("script", "latin")),
        spaces=bool(data.get("spaces", True)),
        word_order=str(data.get("word_order", "svo")),
        triggers=tuple(triggers),
        negation=_str_list(data.get("negation"), f"{path}: negation"),
        speculation=_str_list(data.get("speculation"), f"{path}: speculation"),
        future=_str_list(data.get("future"), f"{path}: future"),
        prefixes=_str_list(morph.get("prefixes"), f"{path}: morphology.prefixes"),
        suffixes=_str_list(morph.get("suffixes"), f"{path}: morphology.suffixes"),
        roles=tuple(roles),
        place_before=_str_list(places.get("before"), f"{path}: place_markers.before"),
        place_after=_str_list(places.get("after"), f"{path}: place_markers.after"),
        agent_markers=_str_list(data.get("agent_markers"), f"{path}: agent_markers"),
        subject_markers=_str_list(data.get("subject_markers"), f"{path}: subject_markers"),
        not_triggers=_str_list(data.get("not_triggers"), f"{path}: not_triggers"),
        background=_str_list(data.get("background"), f"{path}: background"),
        between=_str_list(data.get("between"), f"{path}: between"),
        titles=_str_list(data.get("titles"), f"{path}: titles"),
        adjectives_follow=bool(data.get("adjectives_follow", False)),
        obligations=_str_list(data.get("obligations"), f"{path}: obligations"),
    )


def _actor_entries(path: Path) -> Iterator[tuple[str, ActorRef, str, bool]]:
    """(name, ref, lang, case_sensitive) from a hand-kept actor file."""
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of actor code to aliases")
    for code, groups in data.items():
        if not isinstance(groups, list):
            raise ConfigError(f"{path}: {code}: expected a list of alias groups")
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("names"), dict):
                raise ConfigError(f"{path}: {code}[{i}]: expected 'names' mapping")
            role = str(group.get("role") or "")
            if role not in ROLES:
                raise ConfigError(f"{path}: {code}[{i}]: unknown role {role!r}")
            exact = set(_str_list(group.get("case_sensitive"), f"{path}: {code}[{i}]"))
            ref = ActorRef(str(code), role, str(group.get("kind", "name")))
            for lang, names in group["names"].items():
                for name in _str_list(names, f"{path}: {code}[{i}].names.{lang}"):
                    yield name, ref, str(lang), name in exact


def load_boilerplate(path: Path) -> Boilerplate:
    """Compiled line patterns (configs/boilerplate.yaml)."""
    data = _read_yaml(path) or {}
    pats: list[re.Pattern[str]] = []
    for group, items in (data.get("patterns") or {}).items():
        for item in _str_list(items, f"{path}: patterns.{group}"):
            try:
                pats.append(re.compile(item, re.IGNORECASE))
            except re.error as exc:
                raise ConfigError(f"{path}: patterns.{group}: {item!r}: {exc}") from exc
    if not pats:
        return Boilerplate(())
    # Two alternations: every line is tested twice, not once per pattern. Line-start patterns
    # share one leading "^", so the regex engine tries them at the start only instead of at
    # every position of the line.
    anchored = [p.pattern[1:] for p in pats if p.pattern.startswith("^")]
    floating = [p.pattern for p in pats if not p.pattern.startswith("^")]
    combined = []
    if anchored:
        combined.append("^(?:" + "|".join(f"(?:{p})" for p in anchored) + ")")
    if floating:
        combined.append("|".join(f"(?:{p})" for p in floating))
    return Boilerplate(tuple(re.compile(c, re.IGNORECASE) for c in combined))


def _by_lang(section: Any, path: Path) -> Iterator[tuple[str, str]]:
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: expected a mapping of language to names")
    for lang, names in section.items():
        for name in _str_list(names, f"{path}: {lang}"):
            yield name, str(lang)


def load_knowledge(config_dir: Path, cldr: bool = True) -> Knowledge:
    """Read every coder config under ``config_dir``."""
    from streams.coding.cldr import cldr_names

    k = Knowledge()
    k.codes = load_codes(config_dir / "cameo.yaml")
    for path in sorted((config_dir / "lexicons").glob("*.yaml")):
        lex = load_lexicon(path)
        for _phrase, code in lex.triggers:
            if code not in k.codes:
                raise ConfigError(f"{path}: trigger code {code} is not in cameo.yaml")
        k.lexicons[lex.lang] = lex
    bp = config_dir / "boilerplate.yaml"
    if bp.exists():
        k.boilerplate = load_boilerplate(bp)
    actors_dir = config_dir / "actors"
    amb = actors_dir / "ambiguous.yaml"
    if amb.exists():
        data = _read_yaml(amb) or {}
        k.stop = [
            (str(n), str(lang))
            for lang, names in (data.get("stop") or {}).items()
            for n in names or []
        ]
        k.exact_names = frozenset(_by_lang(data.get("case_sensitive"), amb))
        k.needs_context = frozenset(_by_lang(data.get("needs_context"), amb))
    abbr = actors_dir / "abbreviations.yaml"
    if abbr.exists():
        from streams.coding.abbrev import load_abbreviations

        k.abbreviations = load_abbreviations(abbr)
    if cldr:
        for name, ref, lang in cldr_names():
            k.names.append((name, ref, lang))
    for path in sorted(actors_dir.glob("*.yaml")):
        if path.name in ("ambiguous.yaml", "abbreviations.yaml"):
            continue
        for name, ref, lang, exact in _actor_entries(path):
            if exact:
                k.case_sensitive.append((name, ref, lang))
            else:
                k.names.append((name, ref, lang))
    return k
