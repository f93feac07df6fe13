"""The event coder: sentences in, CAMEO-coded actor-pair events out, with evidence.

Method (explainable by construction): find actor names (CLDR + configs/actors) and event
triggers (configs/lexicons/<lang>.yaml) per sentence with Aho-Corasick; a sentence with a
trigger and two different actors is an event; the actor before the trigger acts on the actor
after it (subject-object-verb languages: the first actor acts on the one nearest the trigger);
negation and speculation cues cancel an event, future cues turn a meeting into a plan (036).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.coding import CODER_VERSION
from streams.coding.abbrev import find_abbreviations
from streams.coding.lexicon import ActorRef, CameoCode, Knowledge, LanguageLexicon, load_knowledge
from streams.coding.matcher import Match, MultiMatcher, PhraseMatcher, longest_non_overlapping
from streams.coding.text import Sentence, fold, fold_lines, is_word_char, script_of, sentences
from streams.records import CleanArticle, CodedEvent, stable_id, utcnow

ActorPayload = tuple[ActorRef, frozenset[str], bool]  # actor, languages, needs context
# One coded event of a sentence: (code, source, target, trigger, directed).
Coded = tuple[CameoCode, Match[ActorPayload], Match[ActorPayload], Match[str], bool]
STOP = ActorRef("", "", "stop")  # phrases that contain a name without meaning the state
NOT_A_TRIGGER = "-"  # payload of lexicons' not_triggers
BACKGROUND_WINDOW = 20  # characters between a background cue and the trigger it introduces
CUE_WINDOW = 40  # characters before a trigger in which a negation/speculation/future cue counts
# Roots that are events with one state (or none) and a non-state actor: protests, repression,
# attacks and fighting ("police fired on protesters", "militants attacked a checkpoint").
SOLO_ROOTS = frozenset({"14", "17", "18", "19", "20"})
# Demands, disapproval, rejection and threats have one-state events too, when a non-state
# actor makes them ("the union demanded the government resign", "rebels threatened a strike").
VOICE_ROOTS = frozenset({"10", "11", "12", "13"})
ONE_STATE_ROOTS = SOLO_ROOTS | VOICE_ROOTS
VISIT_CODES = frozenset({"042", "043"})
# Material acts that, done in a state's territory, are done to that state.
TERRITORIAL_ROOTS = frozenset({"07", "08", "13", "15", "17", "18", "19", "20"})
# Events that two states do with each other rather than one to the other.
RECIPROCAL_ROOTS = frozenset({"03", "04", "06"})
RECIPROCAL_CODES = frozenset({"050", "057"})
MAX_EVENTS_PER_SENTENCE = 2  # different roots from different triggers of one sentence
BETWEEN_REACH = 20  # characters from a trigger to "between X and Y" after it
OBJECT_GAP = 12  # characters between a verb trigger and a trigger that is its object
PLACE_WINDOW = 24  # characters before/after a name searched for a place marker


@dataclass(frozen=True)
class _Cue:
    kind: str  # negation | speculation | future | background


# A text's triggers (of known codes), cues and role words, as Coder._phrases finds them.
_Phrases = tuple[list[Match[str]], list[Match[_Cue]], list[Match[str]]]


@dataclass(frozen=True)
class _LangTools:
    # triggers (0), cues (1) and role words (2), found with the language's names in one scan
    phrases: tuple[tuple[str, tuple[int, Any]], ...]
    key: str  # the language, or the script of a text in a language without a lexicon
    sov: bool
    place_before: tuple[str, ...] = ()
    place_after: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    between: tuple[str, ...] = ()
    adjectives_follow: bool = False
    obligations: tuple[str, ...] = ()


class Coder:
    """Built once from configs/ (a second or two); then pure and fast per article."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.codes = knowledge.codes
        prefixes, suffixes = _affixes(knowledge.lexicons.values())
        self._prefixes, self._suffixes = prefixes, suffixes
        exact: dict[tuple[str, ActorRef], set[str]] = {}
        folded_names: dict[tuple[str, ActorRef], set[str]] = {}
        for name, ref, lang in knowledge.names:
            table = exact if (name, lang) in knowledge.exact_names else folded_names
            table.setdefault((name, ref), set()).add(lang)
        for name, ref, lang in knowledge.case_sensitive:
            # in the languages it is given for, like any name ("Petro" is es: a Colombian
            # president there, a Ukrainian first name in English copy)
            exact.setdefault((name, ref), set()).add(lang)
        for phrase, lang in knowledge.stop:
            folded_names.setdefault((phrase, STOP), set()).add(lang)
        context = {(fold(n), lang) for n, lang in knowledge.needs_context}

        def payloads(table: dict[tuple[str, ActorRef], set[str]]) -> list[tuple[str, Any]]:
            return [
                (name, (ref, frozenset(langs), any((fold(name), lg) in context for lg in langs)))
                for (name, ref), langs in table.items()
            ]

        self._name_langs = frozenset(lang for _n, _r, lang in knowledge.names)
        # Latin-script names count only in their own languages, so each language gets its own
        # (small, fast) automaton of them, built when the language is first seen; names in
        # other scripts count everywhere and share one automaton.
        folded_payloads = payloads(folded_names)
        self._latin_payloads = [(n, p) for n, p in folded_payloads if script_of(n[0]) == "latin"]
        self._other: PhraseMatcher[ActorPayload] = PhraseMatcher(
            [(n, p) for n, p in folded_payloads if script_of(n[0]) != "latin"],
            prefixes=prefixes,
            suffixes=suffixes,
        )
        # Case-sensitive names ("US", "Petro"), like Latin-script ones, by language too.
        self._exact_payloads = payloads(exact)
        # (language key, case-sensitive) -> its names' matcher
        self._name_matchers: dict[tuple[str, bool], PhraseMatcher[ActorPayload]] = {}
        self._langs: dict[str, _LangTools] = {
            lang: self._tools([lex], lang) for lang, lex in knowledge.lexicons.items()
        }
        by_script: dict[str, list[LanguageLexicon]] = {}
        for lex in knowledge.lexicons.values():
            by_script.setdefault(lex.script, []).append(lex)
        self._scripts = {s: self._tools(lexes, f"script:{s}") for s, lexes in by_script.items()}
        # A language's Latin-script names and its phrases, found in one scan (built when a
        # language is first seen; the lexicons' languages now).
        self._scanners: dict[tuple[str, str], MultiMatcher] = {}
        for lang, tools in self._langs.items():
            self._scanner(lang, tools)
            self._names_matcher(lang, True)

    def _name_key(self, lang: str) -> str:
        """The language whose names count in a text ("*": every language's, for one without)."""
        return lang if lang in self._name_langs else "*"

    @staticmethod
    def _names_in(
        payloads: list[tuple[str, ActorPayload]], key: str
    ) -> list[tuple[str, ActorPayload]]:
        """The names that count in a language (the ones ``actors`` keeps).

        Its own and every language's Latin-script ones, and all in other scripts.
        """
        return [
            (n, p)
            for n, p in payloads
            if key == "*" or key in p[1] or "*" in p[1] or script_of(n[0]) != "latin"
        ]

    def _names_matcher(self, lang: str, case_sensitive: bool) -> PhraseMatcher[ActorPayload]:
        """The Latin-script names (or the case-sensitive ones) of one language, built once."""
        key = self._name_key(lang)
        matcher = self._name_matchers.get((key, case_sensitive))
        if matcher is None:
            payloads = self._exact_payloads if case_sensitive else self._latin_payloads
            matcher = PhraseMatcher(
                self._names_in(payloads, key),
                prefixes=self._prefixes,
                suffixes=self._suffixes,
                case_sensitive=case_sensitive,
            )
            self._name_matchers[(key, case_sensitive)] = matcher
        return matcher

    def _scanner(self, lang: str, tools: _LangTools) -> MultiMatcher:
        """One automaton for a language's Latin-script names (0) and phrases (1)."""
        key = self._name_key(lang)
        scanner = self._scanners.get((key, tools.key))
        if scanner is None:
            scanner = MultiMatcher(
                [
                    (
                        self._names_in(self._latin_payloads, key),
                        self._prefixes,
                        self._suffixes,
                        True,
                    ),
                    (tools.phrases, None, None, False),
                ]
            )
            self._scanners[(key, tools.key)] = scanner
        return scanner

    @classmethod
    def from_config_dir(cls, config_dir: Path) -> Coder:
        """Load configs/ and build the matchers."""
        return cls(load_knowledge(config_dir))

    def _tools(self, lexes: list[LanguageLexicon], key: str) -> _LangTools:
        triggers = [(p, c) for lex in lexes for p, c in lex.triggers]
        # A code outside cameo.yaml: found like a trigger, dropped like no trigger at all.
        triggers += [(p, NOT_A_TRIGGER) for lex in lexes for p in lex.not_triggers]
        cues = [
            (p, _Cue(kind))
            for lex in lexes
            for kind, phrases in (
                ("negation", lex.negation),
                ("speculation", lex.speculation),
                ("background", lex.background),
                ("future", lex.future),
            )
            for p in phrases
        ]
        roles = [(p, r) for lex in lexes for p, r in lex.roles]
        phrases: list[tuple[str, tuple[int, Any]]] = [
            *((p, (0, c)) for p, c in triggers),
            *((p, (1, c)) for p, c in cues),
            *((p, (2, r)) for p, r in roles),
        ]
        return _LangTools(
            tuple(phrases),
            key,
            sov=all(lex.word_order == "sov" for lex in lexes),
            place_before=tuple(sorted({fold(m) for lex in lexes for m in lex.place_before})),
            place_after=tuple(sorted({fold(m) for lex in lexes for m in lex.place_after})),
            agents=tuple(sorted({fold(m) for lex in lexes for m in lex.agent_markers})),
            between=tuple(sorted({fold(m) for lex in lexes for m in lex.between})),
            adjectives_follow=all(lex.adjectives_follow for lex in lexes),
            obligations=tuple(sorted({fold(m) for lex in lexes for m in lex.obligations})),
            subjects=tuple(
                sorted({m for lex in lexes for m in lex.subject_markers}, key=len)[::-1]
            ),
        )

    def _tools_for(self, lang: str, text: str) -> _LangTools | None:
        if lang in self._langs:
            return self._langs[lang]
        script = next((script_of(c) for c in text if c.isalpha()), "latin")
        return self._scripts.get(script)

    def actors(
        self,
        text: str,
        lang: str,
        folded: str | None = None,
        latin: list[Match[ActorPayload]] | None = None,
    ) -> list[Match[ActorPayload]]:
        """Actor mentions in a text.

        A Latin-script name counts only in the languages it is given for ("Island" is Iceland
        in German, not in English); names in other scripts are shared by few languages and
        count everywhere, so a Russian/Ukrainian or Arabic/Persian mix-up in language
        identification loses nothing. ``latin``: the Latin-script names, if already found
        (by the scan that finds the phrases too).
        """
        known = lang in self._name_langs
        found = [
            m
            for m in [
                *(
                    latin
                    if latin is not None
                    else self._names_matcher(lang, False).find(text, folded)
                ),
                *self._other.find(text, folded),
                *self._names_matcher(lang, True).find(text),
            ]
            if "*" in m.payload[1]
            or lang in m.payload[1]
            or not known
            or script_of(text[m.start]) != "latin"
        ]
        table = self.knowledge.abbreviations
        if table is not None:
            # 中俄, 日米, 북러: one mention per state of a compound (equal partners)
            found += [
                Match(start, end, (ActorRef(code, "", "abbreviation"), frozenset({lang}), False))
                for start, end, code in find_abbreviations(text, lang, table)
            ]
        stops = [m for m in found if m.payload[0] is STOP]
        found = [
            m
            for m in found
            if m.payload[0] is not STOP
            and not any(s.start <= m.start and m.end <= s.end for s in stops)
        ]
        found.sort(key=lambda m: (m.start, m.end))
        return _drop_nested(found)

    def code_sentence(
        self,
        sentence: str,
        lang: str,
        mentions: list[Match[ActorPayload]] | None = None,
        phrases: _Phrases | None = None,
        folded: str | None = None,
    ) -> list[Coded]:
        """Events in one sentence: (code, source, target, trigger, directed).

        Two states that interact make a pair; a sentence with one state (or none) gives an
        event only for protest, coercion and violence with a non-state actor (police,
        protesters, militants) — never a second, invented state.
        """
        if folded is None:
            folded = fold(sentence)
        tools = self._tools_for(lang, sentence)
        if tools is None:
            return []
        if mentions is None or phrases is None:
            names, candidates = self._scanner(lang, tools).candidates(sentence, folded)
            if mentions is None:
                mentions = self.actors(sentence, lang, folded, longest_non_overlapping(names))
            if phrases is None:
                phrases = self._phrases(candidates)
        countries = {m.payload[0].code for m in mentions}
        triggers, cues, roles = phrases
        triggers = [t for t in triggers if not _inside_any(t, mentions)]
        triggers = _main_triggers(triggers, mentions, tools.sov, sentence)
        if not triggers:
            return []
        if len(countries) < 2:
            triggers = [t for t in triggers if self.codes[t.payload].root in ONE_STATE_ROOTS]
            if not triggers:
                return []
        ordered = triggers[::-1] if tools.sov else triggers
        # The place a visit goes to ("arrived in Beijing") is the host of that visit only;
        # for the sentence's other triggers it is a place.
        visits = [t for t in triggers if t.payload in VISIT_CODES]
        hosts = {
            (m.start, m.end)
            for m in mentions
            for t in visits
            if 0 <= m.start - t.end <= 3 and not tools.sov
        }
        out: list[Coded] = []
        extra: list[Coded] = []  # the other states of a listed source or target ("A, B and C")
        roots: set[str] = set()  # one event per root: a second trigger of it retells it
        for trigger in ordered:
            code = self.codes[trigger.payload]
            if code.root in roots or len(out) >= MAX_EVENTS_PER_SENTENCE:
                continue
            found = self._code_trigger(
                tools, sentence, folded, mentions, trigger, len(countries), cues, roles, hosts
            )
            if found is not None:
                roots.add(found[0].root)
                out.append(found)
                if not tools.sov:  # verb-final lists read differently: not yet
                    extra.extend(_listed(found, mentions, sentence))
        return out + extra

    def _code_trigger(
        self,
        tools: _LangTools,
        sentence: str,
        folded: str,
        mentions: list[Match[ActorPayload]],
        trigger: Match[str],
        n_states: int,
        cues: list[Match[_Cue]],
        roles: list[Match[str]],
        hosts: AbstractSet[tuple[int, int]] = frozenset(),
    ) -> Coded | None:
        """The event of one trigger: the pair nearest it, or a one-state event."""
        if _cancelled(cues, trigger, tools.sov, folded):
            return None
        code = self.codes[trigger.payload]
        if code.root == "04" and _planned(cues, trigger, tools.sov):
            code = self.codes.get("036", code)
        elif code.root == "14" and _planned(cues, trigger, tools.sov):
            code = self.codes.get("133", code)  # a protest announced is a threat of protest
        # A visit's place is its host ("the minister was in Pyongyang on a visit"), also
        # when the visit is only planned (036).
        visit = trigger.payload in VISIT_CODES
        actors = [
            m
            for m in mentions
            if visit or not (_is_place(m, trigger, folded, tools) or (m.start, m.end) in hosts)
        ]
        if (
            n_states >= 2
            and len({m.payload[0].code for m in actors}) == 1
            and code.root in TERRITORIAL_ROOTS
            and not tools.sov
        ):
            # "Serbia lifted a curfew in Montenegro", "Israel strengthened its forces in
            # Lebanon": a material act done in a state's territory is done to that state,
            # when the sentence names no other counterpart.
            source = actors[0]
            places = [
                m
                for m in mentions
                if m.start >= trigger.end
                and m.payload[0].code != source.payload[0].code
                and _marker_before(folded, m.start, tools.place_before)  # "in X", not "X-made"
            ]
            if places and source.end <= trigger.start:
                return (code, source, places[0], trigger, True)
        if n_states >= 2 and len({m.payload[0].code for m in actors}) >= 2:
            reciprocal = code.root in RECIPROCAL_ROOTS or code.code in RECIPROCAL_CODES
            # (a mediation "between X and Y" has X and Y as its targets, not as a pair)
            both = _between(actors, trigger, sentence, folded, tools.between)
            if both is not None and code.code != "045":
                return (code, both[0], both[1], trigger, False)
            demanded = _obliged(actors, trigger, folded, tools.obligations)
            if demanded is not None:
                return (code, demanded[0], demanded[1], trigger, True)
            if tools.adjectives_follow:
                agent = _agent_adjective(actors, trigger, sentence)
                if agent is not None:
                    return (code, agent[0], agent[1], trigger, True)
            pair = _source_target(actors, trigger, tools.sov, sentence, tools.subjects, reciprocal)
            if pair is not None:
                source, target, directed = _passive(pair, trigger, folded, tools)
                return (code, source, target, trigger, directed)
        voice = code.root in VOICE_ROOTS or code.code == "133"
        if code.root not in SOLO_ROOTS and not voice:
            return None
        parties = [m for m in mentions if not _marked_after(m, folded, tools)]
        solo = _solo(parties, roles, trigger, tools.sov)
        if solo is None:
            return None
        if voice and (solo[0].payload[0].kind != "role" or solo[0] is solo[1]):
            return None  # a state's own demand needs a counterpart state, found above
        return (code, solo[0], solo[1], trigger, solo[2])

    def _phrases(self, candidates: list[Match[tuple[int, Any]]]) -> _Phrases:
        """Triggers (of known codes), cues and role words, overlaps resolved per kind."""
        triggers: list[Match[str]] = []
        cues: list[Match[_Cue]] = []
        roles: list[Match[str]] = []
        for m in candidates:
            kind, value = m.payload
            if kind == 0:
                triggers.append(Match(m.start, m.end, value))
            elif kind == 1:
                cues.append(Match(m.start, m.end, value))
            else:
                roles.append(Match(m.start, m.end, value))
        return (
            [t for t in longest_non_overlapping(triggers) if t.payload in self.codes],
            longest_non_overlapping(cues),
            longest_non_overlapping(roles),
        )

    def code(self, article: CleanArticle, coded_at: datetime | None = None) -> list[CodedEvent]:
        """All events of an article, one per (pair, code), with evidence.

        Triggers, then names, are found in the whole article at once (not sentence by
        sentence) and handed to their sentences; an article without a trigger is done after
        the first scan.
        """
        now = coded_at or utcnow()
        # (pair, code) -> the surest telling: an event's id is made of them (and the article)
        best: dict[tuple[str, str], tuple[float, Sentence, Coded]] = {}
        sents = sentences(article.title, article.text, self.knowledge.boilerplate.patterns)
        if not sents:
            return []
        starts: list[int] = []
        pos = 0
        for sent in sents:
            starts.append(pos)
            pos += len(sent.text) + 1
        doc = "\n".join(sent.text for sent in sents)
        folded, sliceable = fold_lines(doc)  # (a sentence's fold is then a slice of it)
        tools = self._tools_for(article.lang, doc)
        if tools is None:
            return []
        # One scan for the language's Latin-script names and its phrases.
        doc_names, doc_phrases = self._scanner(article.lang, tools).candidates(doc, folded)
        doc_triggers, doc_cues, doc_roles = self._phrases(doc_phrases)
        trig = _by_sentence(doc_triggers, starts, sents)
        # Only sentences with a trigger can hold an event: the others' names, cues and role
        # words are not handed out (names still confirm ambiguous ones, below).
        wanted = [bool(t) for t in trig]
        if not any(wanted):
            return []
        lexicon = self.knowledge.lexicons.get(article.lang)
        titles = lexicon.titles if lexicon is not None else ()
        latin = longest_non_overlapping(doc_names)
        mentions_all = _with_surnames(self.actors(doc, article.lang, folded, latin), doc, titles)
        found = _by_sentence(mentions_all, starts, sents, wanted)
        cues = _by_sentence(doc_cues, starts, sents, wanted)
        roles = _by_sentence(doc_roles, starts, sents, wanted)
        # Ambiguous names ("Georgia", "Jordan", 서울) count only where an unambiguous name
        # of the same state appears somewhere in the article.
        confirmed = _confirmed(mentions_all, starts, sents)
        for sent, start, mentions, triggers, s_cues, s_roles in zip(
            sents, starts, found, trig, cues, roles, strict=True
        ):
            if not triggers:
                continue
            mentions = [m for m in mentions if not m.payload[2] or m.payload[0].code in confirmed]
            found_here = self.code_sentence(
                sent.text,
                article.lang,
                mentions,
                (triggers, s_cues, s_roles),
                folded[start : start + len(sent.text)] if sliceable else None,
            )
            for rank, event in enumerate(found_here):
                key, confidence = self._identity(sent, event, rank)
                if key not in best or best[key][0] < confidence:
                    best[key] = (confidence, sent, event)
        # Only the event kept for each id becomes a CodedEvent (several triggers often give one).
        return [
            self._event(article, sent, event, stable_id(article.id, *key), confidence, now)
            for key, (confidence, sent, event) in best.items()
        ]

    @staticmethod
    def _identity(sent: Sentence, event: Coded, rank: int) -> tuple[tuple[str, str], float]:
        """What makes the event's id (pair and code: one article's) and its confidence."""
        code, src, tgt, _trig, directed = event
        s_ref, t_ref = src.payload[0], tgt.payload[0]
        confidence = 0.5 + 0.15 * directed + 0.1 * (len(code.code) == 3)
        if s_ref.kind == "role" or t_ref.kind == "role" or s_ref.code == t_ref.code:
            confidence -= 0.15  # one state or none: less sure, and never a watched pair
        confidence += 0.1 * (sent.is_title or sent.position <= 2)
        confidence -= 0.05 * rank  # a sentence's later triggers are less often its main event
        return (_parties(event)[2], code.code), round(min(confidence, 0.95), 3)

    def _event(
        self,
        article: CleanArticle,
        sent: Sentence,
        event: Coded,
        event_id: str,
        confidence: float,
        now: datetime,
    ) -> CodedEvent:
        code, src, tgt, trig, directed = event
        s_ref, t_ref = src.payload[0], tgt.payload[0]
        s_code, t_code, pair = _parties(event)
        text = sent.text
        # One validation of plain data (nested evidence included) costs about two thirds of
        # building the four evidence models one by one and then the event from keywords.
        return CodedEvent.model_validate(
            {
                "event_id": event_id,
                "article_id": article.id,
                "story_id": article.story_id,
                "pair": pair,
                "source": s_code,
                "target": t_code,
                "source_role": s_ref.role or None,
                "target_role": t_ref.role or None,
                "directed": directed,
                "cameo": code.code,
                "root": code.root,
                "quad_class": code.quad_class,
                "goldstein": code.goldstein,
                "confidence": confidence,
                "lang": article.lang,
                "evidence": {
                    "sentence": text,
                    "trigger": _span(text, trig.start, trig.end, code.code),
                    "source": _span(text, src.start, src.end, s_code),
                    "target": _span(text, tgt.start, tgt.end, t_code),
                },
                "title": article.title,
                "url": article.url,
                "source_name": article.source,
                "published_at": article.published_at,
                "ingested_at": article.ingested_at,
                "signature": article.signature,
                "coded_at": now,
                "coder_version": CODER_VERSION,
            }
        )


def _span(text: str, start: int, end: int, code: str) -> dict[str, Any]:
    return {"text": text[start:end], "start": start, "end": end, "code": code}


def _parties(event: Coded) -> tuple[str, str, str]:
    """Source code, target code (a state's, else the role's) and the undirected pair."""
    s_ref, t_ref = event[1].payload[0], event[2].payload[0]
    s_code, t_code = s_ref.code or s_ref.role, t_ref.code or t_ref.role
    return s_code, t_code, "-".join(sorted((s_code, t_code)))


def _affixes(
    lexes: Iterable[LanguageLexicon],
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Inflection affixes by script: names are matched across languages, so rules are too."""
    pre: dict[str, set[str]] = {}
    suf: dict[str, set[str]] = {}
    for lex in lexes:
        pre.setdefault(lex.script, set()).update(fold(p) for p in lex.prefixes)
        suf.setdefault(lex.script, set()).update(fold(s).lstrip("-'’") for s in lex.suffixes)
    return ({k: frozenset(v) for k, v in pre.items()}, {k: frozenset(v) for k, v in suf.items()})


def _cancelled(cues: list[Match[_Cue]], trigger: Match[str], sov: bool, text: str) -> bool:
    """Negation or speculation in reach of the trigger (before it, or right after it).

    A background cue ("amid the war", "전쟁 중") reaches only the phrase it introduces: the
    trigger must follow it closely, in the same clause.
    """
    for c in cues:
        kind = c.payload.kind
        if kind == "future":
            continue
        if kind == "background":
            if c.end <= trigger.start:
                gap = text[c.end : trigger.start]
                if len(gap) <= BACKGROUND_WINDOW and not any(p in gap for p in ",;:"):
                    return True
            elif (sov or script_of(text[c.start]) == "han") and (
                trigger.end <= c.start <= trigger.end + 2
            ):  # postpositions: 전쟁 중에, 冲突背景下
                return True
            continue
        if c.end <= trigger.start and trigger.start - c.end <= CUE_WINDOW:
            return True
        if kind == "negation" and trigger.start <= c.start < trigger.end + CUE_WINDOW // 2:
            return True
        if sov and trigger.end <= c.start < trigger.end + CUE_WINDOW // 2:
            # verb-final: hedges and negation follow the verb, unless a complementizer (कि,
            # که) has opened the next clause in between, whose hedge it is
            if not _COMPLEMENTIZER.search(text, trigger.end, c.start):
                return True
    return False


def _planned(cues: list[Match[_Cue]], trigger: Match[str], sov: bool) -> bool:
    """A future cue in reach of a meeting or visit makes it a plan (036)."""
    for c in cues:
        if c.payload.kind != "future":
            continue
        if c.end <= trigger.start and trigger.start - c.end <= CUE_WINDOW:
            return True
        if sov and trigger.end <= c.start < trigger.end + CUE_WINDOW // 2:
            return True
    return False


def _main_triggers(
    triggers: list[Match[str]], mentions: list[Match[ActorPayload]], sov: bool, text: str
) -> list[Match[str]]:
    """Drop triggers that are the object of another trigger, not events of their own.

    "supported the invasion", "condemned the attack", "demanded the release": the noun right
    after a verb (right before it in verb-final languages: 침공을 지지) names what the verb is
    about; the sentence's event is the verb's.
    """
    if len(triggers) < 2:
        return triggers
    ordered = sorted(triggers, key=lambda t: t.start)
    dropped: set[int] = set()
    for i in range(len(ordered) - 1):
        obj = ordered[i] if sov else ordered[i + 1]
        left, right = ordered[i].end, ordered[i + 1].start
        if (
            0 <= right - left <= OBJECT_GAP
            and not _CONJUNCTION.search(text, left, right)  # "ties with and opened": two acts
            and not any(left <= m.start and m.end <= right for m in mentions)
            and obj.payload not in VISIT_CODES  # "troops arrived in": a verb, no object
        ):
            dropped.add(id(obj))
    return [t for t in triggers if id(t) not in dropped]


PERSON_KINDS = frozenset({"leader", "official"})
_WORD = re.compile(r"[^\W\d_]+")


_LETTER = re.compile(r"[^\W\d_]")
_WORD_CHAR = re.compile(r"\w")


def _standalone(
    pattern: re.Pattern[str] | str,
    doc: str,
    not_before: re.Pattern[str] | None,
    not_after: re.Pattern[str] | None,
) -> list[tuple[int, int]]:
    """Spans of ``pattern`` with no ``not_before`` character before, no ``not_after`` after.

    What ``(?<!x)pattern(?!x)`` finds, but the regex engine can jump to the pattern's first
    character instead of testing the lookbehind at every position of the document (most of
    the time ``_with_surnames`` took). A plain word is found by ``str.find``, faster still.
    """
    out: list[tuple[int, int]] = []
    pos = 0
    while True:
        if isinstance(pattern, str):
            start = doc.find(pattern, pos)
            if start < 0:
                break
            end = start + len(pattern)
        else:
            hit = pattern.search(doc, pos)
            if hit is None:
                break
            start, end = hit.span()
        if (not_before is not None and start > 0 and not_before.match(doc, start - 1)) or (
            not_after is not None and not_after.match(doc, end)
        ):
            pos = start + 1  # as the engine would: try the next position
            continue
        out.append((start, end))
        pos = end
    return out


def _with_surnames(
    mentions: list[Match[ActorPayload]], doc: str, titles: tuple[str, ...] = ()
) -> list[Match[ActorPayload]]:
    """Leaders and ministers named in full once are later named by one of their names alone.

    "Kim Jong Un … Kim hosted …", "Vladimir Putin … Putin said": after a full mention of a
    person of a state, the family name (first word of an East Asian name, last word of most
    others) stands for the same state. A word that two different states' people share in the
    article ("Kim" of both Koreas) stands for neither; only capitalised words of spaced
    scripts count, at least three letters long unless it is the first word (Xi, Li). In
    Chinese, Japanese and Korean a name is one word and its family name one character, which
    stands for the person only before a title of the language (김 위원장, 金総書記, 习主席).
    """
    words: dict[str, tuple[int, ActorPayload | None]] = {}
    titled: dict[str, tuple[int, ActorPayload | None]] = {}
    for m in mentions:
        ref = m.payload[0]
        if ref.kind not in PERSON_KINDS or not ref.code:
            continue
        parts = _WORD.findall(doc[m.start : m.end])
        if parts and script_of(parts[0][0]) in ("han", "hangul"):
            name = parts[0]
            if titles and 2 <= len(name) <= 4:
                seen = titled.get(name[0])
                if seen is None:
                    titled[name[0]] = (m.end, m.payload)
                elif seen[1] is not None and seen[1][0].code != ref.code:
                    titled[name[0]] = (seen[0], None)
            continue
        if len(parts) < 2:
            continue
        for i, word in ((0, parts[0]), (-1, parts[-1])):
            if not word[0].isupper() or len(word) < (2 if i == 0 else 3):
                continue
            seen = words.get(word)
            if seen is None:
                words[word] = (m.end, m.payload)
            elif seen[1] is not None and seen[1][0].code != ref.code:
                words[word] = (seen[0], None)
    if not words and not titled:
        return mentions
    added: list[Match[ActorPayload]] = []
    title_re = "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True))
    for char, (after, payload) in titled.items():
        if payload is None:
            continue
        pattern = re.compile(rf"{re.escape(char)} ?(?:{title_re})")
        before = _LETTER if script_of(char) == "hangul" else None  # 한글 has spaces
        for start, _end in _standalone(pattern, doc, before, None):
            span = Match(start, start + 1, payload)
            if start < after or any(_overlaps(m, span) for m in mentions):
                continue
            added.append(Match(start, start + 1, (payload[0], payload[1], False)))
    for word, (after, payload) in words.items():
        if payload is None:
            continue
        for start, end in _standalone(word, doc, _WORD_CHAR, _WORD_CHAR):
            span = Match(start, end, payload)
            if start < after or any(_overlaps(m, span) for m in mentions):
                continue
            added.append(Match(start, end, (payload[0], payload[1], False)))
    if not added:
        return mentions
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


def _by_sentence(
    matches: list[Match[Any]],
    starts: list[int],
    sents: list[Sentence],
    wanted: list[bool] | None = None,
) -> list[list[Match[Any]]]:
    """Matches of the joined article, handed to their (wanted) sentences with sentence offsets."""
    out: list[list[Match[Any]]] = [[] for _ in starts]
    for m in matches:
        i = bisect_right(starts, m.start) - 1
        if wanted is not None and not wanted[i]:
            continue
        end = starts[i] + len(sents[i].text)
        if m.end <= end:  # a match across a sentence break is not a match
            out[i].append(Match(m.start - starts[i], m.end - starts[i], m.payload))
    return out


def _confirmed(
    mentions: list[Match[ActorPayload]], starts: list[int], sents: list[Sentence]
) -> set[str]:
    """States named unambiguously somewhere in the article (within one sentence)."""
    out: set[str] = set()
    for m in mentions:
        code = m.payload[0].code
        if m.payload[2] or code in out:
            continue
        i = bisect_right(starts, m.start) - 1
        if m.end <= starts[i] + len(sents[i].text):
            out.add(code)
    return out


def _drop_nested(mentions: list[Match[ActorPayload]]) -> list[Match[ActorPayload]]:
    out: list[Match[ActorPayload]] = []
    for m in mentions:
        if out and m.start < out[-1].end:
            if (m.end - m.start) > (out[-1].end - out[-1].start):
                out[-1] = m
            continue
        out.append(m)
    return out


def _inside_any(t: Match[str], mentions: list[Match[ActorPayload]]) -> bool:
    return any(m.start <= t.start and t.end <= m.end for m in mentions)


def _coordinated(a: Match[ActorPayload], b: Match[ActorPayload], text: str) -> bool:
    """Tell coordinated subjects ("China and Russia", "Pyongyang dan Teheran") by a short joiner."""
    gap = text[a.end : b.start].strip()
    # a joiner and at most an article: "and", "und der", "et l'", "y el", "и", "و"
    # (words of at most three letters: "llegó a" between two names is no joiner); in scripts
    # without spaces only a conjunction or list mark: 和, 与, 、, と, や
    words = gap.split()
    if any(script_of(ch) == "han" for ch in gap):
        return gap in CJK_JOINERS
    return (
        0 < len(gap) <= 8
        and len(words) <= 2
        and all(len(w.strip(",")) <= 3 for w in words)
        and not any(ch.isdigit() or ch in '.;:!?()"«»“”' for ch in gap)
    )


def _marked_subject(m: Match[ActorPayload], text: str, markers: tuple[str, ...]) -> bool:
    """A name followed by a subject or topic particle (が/は, 이/가/은/는, ने)."""
    tail = text[m.end : m.end + 8]
    return any(tail.startswith(mk) or tail.startswith(f" {mk} ") for mk in markers)


def _source_target(
    mentions: list[Match[ActorPayload]],
    trigger: Match[str],
    sov: bool,
    text: str,
    subject_markers: tuple[str, ...] = (),
    reciprocal: bool = False,
) -> tuple[Match[ActorPayload], Match[ActorPayload], bool] | None:
    """Who acts on whom: nearest actor before the trigger acts on the nearest after it.

    Coordinated subjects of a reciprocal event (meet, cooperate, sign) are its pair whatever
    follows ("China and Russia deepened ties amid the war in Ukraine").
    """
    before = [m for m in mentions if m.end <= trigger.start]
    after = [m for m in mentions if m.start >= trigger.end]
    if sov:
        # Verb-final: the two actors nearest before the verb are its subject and object
        # ("국정원은 … 북한이 러시아에 파병": 북한 → 러시아, not the reporting agency).
        if not before:
            return None
        target = before[-1]
        if _marked_subject(target, text, subject_markers):
            # "합참은 북한이 … 발사했다고 밝혔다": the marked name is the verb's subject and
            # the earlier one only reports it; the object must be another, unmarked name.
            objects = [
                m
                for m in before[:-1]
                if m.payload[0].code != target.payload[0].code
                and not _marked_subject(m, text, subject_markers)
            ]
            if not objects:
                return None
            return target, objects[-1], True
        subjects = [m for m in before[:-1] if m.payload[0].code != target.payload[0].code]
        if subjects:
            marked = [m for m in subjects if _marked_subject(m, text, subject_markers)]
            return (marked[-1] if marked else subjects[-1]), target, True
        rest = [m for m in after if m.payload[0].code != target.payload[0].code]
        if not rest:
            return None
        return target, rest[0], False
    # A new clause (", and …", "; …") before the trigger has its own subject: names before
    # it are not the trigger's source ("X backed Y's war, and both are accused of arming Y").
    boundary = max((b.end() for b in _CLAUSE.finditer(text, 0, trigger.start)), default=0)
    before = [m for m in before if m.start >= boundary]
    if len(before) >= 2 and _coordinated(before[-2], before[-1], text):
        a, b = before[-2], before[-1]
        if a.payload[0].code != b.payload[0].code:
            # "China and Russia held talks": with each other; "Pyongyang and Tehran
            # supported Moscow": the first of them acts on the state after the verb.
            both = (a.payload[0].code, b.payload[0].code)
            objects = [m for m in after if m.payload[0].code not in both]
            return (a, objects[0], True) if objects and not reciprocal else (a, b, False)
    if before:
        source = before[-1]
        # "Korea Utara dan Iran" before the verb: the first of a coordinated subject acts.
        others_after = [m for m in after if m.payload[0].code != source.payload[0].code]
        if others_after:
            return source, others_after[0], True
        others_before = [m for m in before if m.payload[0].code != source.payload[0].code]
        if others_before:
            return others_before[-1], source, False
        return None
    if not after:
        return None
    codes = [m for m in after]
    first = codes[0]
    others = [m for m in codes[1:] if m.payload[0].code != first.payload[0].code]
    if not others:
        return None
    return first, others[0], False


# A clause break: a semicolon, or a comma and a coordinating conjunction (many languages).
_CLAUSE = re.compile(
    r";|,\s*(?:and|but|while|whereas|dan|tetapi|namun|sementara|y|pero|mientras|e|mas|"
    r"et|mais|und|aber|während|и|а|но|і|але|ve|ama|và|nhưng|و|لكن)\s",
    re.IGNORECASE,
)
# A conjunction or a comma between two triggers: two acts, not a verb and its object.
_CONJUNCTION = re.compile(
    r"[,;、，]|(?<!\w)(?:and|or|but|dan|y|e|et|und|oder|и|і|та|ve|và|و)(?!\w)"
)
# What joins the members of a list of names: a comma, or "and" (with an article after it).
_LIST_JOINER = re.compile(
    r"(?:,|、|,?\s*(?:and|y|e|et|und|dan|serta|и|і|та|ve|và|و|和|与|及)(?:\s+\w{1,3})?)$",
    re.IGNORECASE,
)
# Words that open a complement clause in verb-final languages ("said that …"): कि, که.
_COMPLEMENTIZER = re.compile(r"(?<!\w)(?:कि|که)(?!\w)")
CJK_JOINERS = frozenset({"和", "与", "與", "及", "、", "同", "跟", "と", "や", "及び"})
MAX_LISTED = 6  # events added for the other members of listed sources or targets


def _listed(
    event: Coded,
    mentions: list[Match[ActorPayload]],
    text: str,
) -> list[Coded]:
    """The same event for every member of a list of names joined by commas and "and".

    "Sanctions on Sudan, Cuba and Libya", "Pyongyang and Tehran backed Moscow".
    """
    code, source, target, trigger, directed = event
    if source.payload[0].kind == "role" or target.payload[0].kind == "role":
        return []
    ordered = sorted(mentions, key=lambda m: m.start)

    def chain(m: Match[ActorPayload], step: int) -> list[Match[ActorPayload]]:
        out: list[Match[ActorPayload]] = []
        i = ordered.index(m) if m in ordered else -1
        while i >= 0 and 0 <= i + step < len(ordered):
            a, b = (ordered[i], ordered[i + step]) if step > 0 else (ordered[i + step], ordered[i])
            if b.start < a.end or not _LIST_JOINER.match(text[a.end : b.start].strip()):
                break
            nxt = ordered[i + step]
            if trigger.start < nxt.end and nxt.start < trigger.end:
                break
            out.append(nxt)
            i += step
        return out

    sources = [source]
    if source.end <= trigger.start:
        sources += [m for m in chain(source, -1) + chain(source, +1) if m.end <= trigger.start]
    targets = [target]
    if target.start >= trigger.end:
        targets += chain(target, +1)
    extra = []
    seen = {(source.payload[0].code, target.payload[0].code)}
    for s in sources:
        for t in targets:
            key = (s.payload[0].code, t.payload[0].code)
            if key[0] == key[1] or key in seen or (key[1], key[0]) in seen:
                continue
            seen.add(key)
            extra.append((code, s, t, trigger, directed))
    return extra[:MAX_LISTED]


def _obliged(
    mentions: list[Match[ActorPayload]],
    trigger: Match[str],
    folded: str,
    obligations: tuple[str, ...],
) -> tuple[Match[ActorPayload], Match[ActorPayload]] | None:
    """(speaker, obliged) of "Britain said Libya must hand over the suspects".

    The state right before the modal is told what to do; the state named before it said so.
    """
    head = folded[trigger.start : trigger.end]
    if not any(head == o or head.startswith(o + " ") for o in obligations):
        return None
    before = [m for m in mentions if m.end <= trigger.start]
    if not before:
        return None
    obliged = before[-1]
    speakers = [m for m in before[:-1] if m.payload[0].code != obliged.payload[0].code]
    return (speakers[-1], obliged) if speakers else None


def _agent_adjective(
    mentions: list[Match[ActorPayload]], trigger: Match[str], text: str
) -> tuple[Match[ActorPayload], Match[ActorPayload]] | None:
    """A demonym right after the trigger is its agent, the next other state its target.

    "La invasión rusa a Ucrania", in languages whose adjectives follow the noun.
    """
    after = [m for m in mentions if m.start >= trigger.end]
    if not after or after[0].payload[0].kind != "demonym":
        return None
    if text[trigger.end : after[0].start].strip():
        return None
    agent = after[0]
    rest = [m for m in after[1:] if m.payload[0].code != agent.payload[0].code]
    return (agent, rest[0]) if rest else None


def _between(
    mentions: list[Match[ActorPayload]],
    trigger: Match[str],
    text: str,
    folded: str,
    markers: tuple[str, ...],
) -> tuple[Match[ActorPayload], Match[ActorPayload]] | None:
    """Talks "between Washington and Pyongyang": the two names after the marker are the pair.

    The marker must come right after the trigger (a few words at most) and join two names of
    different states.
    """
    if not markers:
        return None
    after = [m for m in mentions if m.start >= trigger.end]
    for i, first in enumerate(after[:-1]):
        if first.start - trigger.end > BETWEEN_REACH:
            return None
        if not _marker_before(folded, first.start, markers):
            continue
        second = after[i + 1]
        if second.payload[0].code != first.payload[0].code and _coordinated(first, second, text):
            return first, second
        return None
    return None


def _marker_before(folded: str, start: int, markers: tuple[str, ...]) -> bool:
    window = folded[max(0, start - PLACE_WINDOW) : start].rstrip()
    for mk in markers:
        if window.endswith(mk):
            i = len(window) - len(mk)
            # a whole word, or a marker of a script without spaces (在联合国, 於平壤)
            if (
                i == 0
                or not is_word_char(window[i - 1])
                or not is_word_char(mk[0])
                or script_of(mk[0]) == "han"
            ):
                return True
    return False


def _is_place(m: Match[ActorPayload], trigger: Match[str], folded: str, tools: _LangTools) -> bool:
    """A name after "in"/"near"/"di"/"en" (or before 에서/で) is where, not who.

    A marker that belongs to the trigger ("arrived in Pyongyang") does not count: there the
    place is the host of the visit.
    """
    belongs = trigger.start <= m.start - 1 and m.start <= trigger.end + 1
    if not belongs and tools.place_before and _marker_before(folded, m.start, tools.place_before):
        return True
    return _marked_after(m, folded, tools)


def _marked_after(m: Match[ActorPayload], folded: str, tools: _LangTools) -> bool:
    """A postposition or suffix after the name makes it a place or an origin (에서, -made)."""
    after = folded[m.end : m.end + PLACE_WINDOW]
    for mk in tools.place_after:
        if after.startswith(mk) and (
            len(after) == len(mk) or not is_word_char(after[len(mk)]) or not mk.isascii()
        ):
            return True
    return False


def _passive(
    pair: tuple[Match[ActorPayload], Match[ActorPayload], bool],
    trigger: Match[str],
    folded: str,
    tools: _LangTools,
) -> tuple[Match[ActorPayload], Match[ActorPayload], bool]:
    """Passive voice ("X was visited by Y"): the agent after the verb acts on the subject."""
    source, target, directed = pair
    if not tools.agents or target.start < trigger.end or source.start > trigger.start:
        return pair
    if _marker_before(folded, target.start, tools.agents):
        return target, source, True
    return pair


def _solo(
    mentions: list[Match[ActorPayload]],
    roles: list[Match[str]],
    trigger: Match[str],
    sov: bool,
) -> tuple[Match[ActorPayload], Match[ActorPayload], bool] | None:
    """One state (or none) and non-state actors: "Kenyan police dispersed protesters".

    A role word next to a state name takes that state ("Indian police"); a role word alone
    takes the sentence's only state, if it has exactly one. The event needs a role actor;
    its target is another actor of the sentence, else the state itself (or the same role).
    """
    states = {m.payload[0].code for m in mentions}
    only = next(iter(states)) if len(states) == 1 else ""
    actors: list[Match[ActorPayload]] = []
    for r in roles:
        near = [m for m in mentions if 0 <= r.start - m.end <= 3 or 0 <= m.start - r.end <= 1]
        country = near[0].payload[0].code if near else only
        ref = ActorRef(country, r.payload, "role")
        actors.append(Match(r.start, r.end, (ref, frozenset(), False)))
    # A bare "officials" or "government" with no state says nothing worth an event.
    actors = [a for a in actors if a.payload[0].code or a.payload[0].role != "GOV"]
    if not actors:
        return None
    used = {id(a) for a in actors}
    everyone = sorted(
        [*actors, *[m for m in mentions if not any(_overlaps(m, a) for a in actors)]],
        key=lambda m: m.start,
    )
    before = [a for a in everyone if a.end <= trigger.start]
    after = [a for a in everyone if a.start >= trigger.end]
    around = [a for a in everyone if a not in before and a not in after]
    if sov:
        source = (before[:1] or around[:1] or after[:1])[0]
    else:
        source = (before[-1:] or around[:1] or after[:1])[0]
    if id(source) not in used and not any(id(a) in used for a in everyone):
        return None

    def key(m: Match[ActorPayload]) -> tuple[str, str]:
        return m.payload[0].code, m.payload[0].role

    others = [a for a in after + before + around if key(a) != key(source)]
    if others:
        return source, others[0], others[0].start >= trigger.end
    ref = source.payload[0]
    if ref.code and ref.role:
        state = ActorRef(ref.code, "GOV", "role")
        return source, Match(source.start, source.end, (state, frozenset(), False)), False
    return source, source, False


def _overlaps(a: Match[Any], b: Match[Any]) -> bool:
    return a.start < b.end and b.start < a.end
