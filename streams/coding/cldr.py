"""Country and IGO names in every CLDR language, through Babel (no hand-typed lists)."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
from functools import lru_cache

import babel
import pycountry
from babel import Locale
from babel.localedata import locale_identifiers

from streams.cache import cache_root
from streams.coding.lexicon import ActorRef

log = logging.getLogger(__name__)
# Bump when _names_from_babel changes what it gives: old cached tables are then ignored.
_TABLE_VERSION = 2

# CLDR territories that are organisations rather than countries, with their actor codes.
_IGO_TERRITORIES = {"EU": "EU", "UN": "UN"}
_PAREN = re.compile(r"\s*[(（][^)）]*[)）]\s*")


_EDGE = re.compile(r"^[^\w(（]+")  # stray marks before a name: not a letter, digit or bracket


def _alpha3() -> dict[str, str]:
    return {c.alpha_2: c.alpha_3 for c in pycountry.countries}


def _base_locales() -> list[str]:
    """Languages and their script variants (zh_Hant, sr_Latn); regional copies add little."""
    out = []
    for ident in locale_identifiers():
        parts = ident.split("_")
        if len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 4):
            out.append(ident)
    return sorted(out)


@lru_cache(maxsize=1)
def cldr_names() -> tuple[tuple[str, ActorRef, str], ...]:
    """(name, actor, language) for every country name CLDR has, in every base locale.

    Reading every locale through Babel takes seconds and leaves ~170 MB of locale data in the
    process, so the table is derived once per Babel/pycountry version and kept as JSON in the
    cache directory (``GEOMON_CACHE_DIR``); a missing or unreadable cache is rebuilt.
    """
    versions = f"babel{babel.__version__}-pycountry{_version('pycountry')}"
    path = cache_root() / f"cldr-names-v{_TABLE_VERSION}-{versions}.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return tuple((n, ActorRef(code, "", "country"), lang) for n, code, lang in rows)
    except (OSError, ValueError, TypeError):
        pass
    names = _names_from_babel()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        rows_out = [[n, ref.code, lang] for n, ref, lang in names]
        tmp.write_text(json.dumps(rows_out, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home still codes, only slower to start
        log.warning("cannot cache the CLDR name table at %s: %s", path, exc)
    return names


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _names_from_babel() -> tuple[tuple[str, ActorRef, str], ...]:
    """The table itself, read from Babel's locale data."""
    codes = _alpha3()
    codes.update(_IGO_TERRITORIES)
    seen: set[tuple[str, str, str]] = set()
    out: list[tuple[str, ActorRef, str]] = []
    for ident in _base_locales():
        try:
            territories = Locale.parse(ident).territories
        except (ValueError, KeyError):
            continue
        lang = ident.split("_")[0]
        for terr, name in territories.items():
            code = codes.get(terr)
            if code is None:
                continue
            # Some locales' data carry stray marks before a name (Aragonese "¨China"): kept,
            # the mark would make " China" a longer match that wins and is then dropped.
            name = _EDGE.sub("", name)
            for variant in {name, _PAREN.sub(" ", name).strip()}:
                if len(variant) < 3 and not any(ord(c) > 0x2E80 for c in variant):
                    continue
                key = (variant, code, lang)
                if key in seen:
                    continue
                seen.add(key)
                out.append((variant, ActorRef(code, "", "country"), lang))
    return tuple(out)
