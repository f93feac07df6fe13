"""Country and IGO names in every CLDR language, through Babel (no hand-typed lists)."""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry
from babel import Locale
from babel.localedata import locale_identifiers

from streams.coding.lexicon import ActorRef

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
    """(name, actor, language) for every country name CLDR has, in every base locale."""
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
