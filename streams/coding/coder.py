"""The event coder: sentences in, CAMEO-coded actor-pair events out, with evidence.

Method (explainable by construction): find actor names (CLDR + configs/actors) and event
triggers (configs/lexicons/<lang>.yaml) per sentence with Aho-Corasick; a sentence with a
trigger and two different actors is an event; the actor before the trigger acts on the actor
after it (subject-object-verb languages: the first actor acts on the one nearest the trigger);
negation and speculation cues cancel an event, future cues turn a meeting into a plan (036).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.coding import CODER_VERSION
from streams.coding.lexicon import ActorRef, CameoCode, Knowledge, LanguageLexicon, load_knowledge
from streams.coding.matcher import Match, PhraseMatcher
from streams.coding.text import Sentence, fold, script_of, sentences
from streams.records import CleanArticle, CodedEvent, Evidence, Span, stable_id, utcnow

ActorPayload = tuple[ActorRef, frozenset[str], bool]  # actor, languages, needs context
STOP = ActorRef("", "", "stop")  # phrases that contain a name without meaning the state
CUE_WINDOW = 40  # characters before a trigger in which a negation/speculation/future cue counts


@dataclass(frozen=True)
class _Cue:
    kind: str  # negation | speculation | future


@dataclass(frozen=True)
class _LangTools:
    triggers: PhraseMatcher[str]
    cues: PhraseMatcher[_Cue]
    sov: bool


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
        for name, ref in knowledge.case_sensitive:
            exact.setdefault((name, ref), set()).add("*")
        for phrase, lang in knowledge.stop:
            folded_names.setdefault((phrase, STOP), set()).add(lang)
        context = {(fold(n), lang) for n, lang in knowledge.needs_context}

        def payloads(table: dict[tuple[str, ActorRef], set[str]]) -> list[tuple[str, Any]]:
            return [
                (name, (ref, frozenset(langs), any((fold(name), lg) in context for lg in langs)))
                for (name, ref), langs in table.items()
            ]

        self._name_langs = frozenset(lang for _n, _r, lang in knowledge.names)
        self._actors: PhraseMatcher[ActorPayload] = PhraseMatcher(
            payloads(folded_names), prefixes=prefixes, suffixes=suffixes
        )
        self._exact: PhraseMatcher[ActorPayload] = PhraseMatcher(
            payloads(exact), prefixes=prefixes, suffixes=suffixes, case_sensitive=True
        )
        self._langs: dict[str, _LangTools] = {
            lang: self._tools([lex]) for lang, lex in knowledge.lexicons.items()
        }
        by_script: dict[str, list[LanguageLexicon]] = {}
        for lex in knowledge.lexicons.values():
            by_script.setdefault(lex.script, []).append(lex)
        self._scripts = {s: self._tools(lexes) for s, lexes in by_script.items()}

    @classmethod
    def from_config_dir(cls, config_dir: Path) -> Coder:
        """Load configs/ and build the matchers."""
        return cls(load_knowledge(config_dir))

    def _tools(self, lexes: list[LanguageLexicon]) -> _LangTools:
        triggers = [(p, c) for lex in lexes for p, c in lex.triggers]
        cues = [
            (p, _Cue(kind))
            for lex in lexes
            for kind, phrases in (
                ("negation", lex.negation),
                ("speculation", lex.speculation),
                ("future", lex.future),
            )
            for p in phrases
        ]
        return _LangTools(
            PhraseMatcher(triggers, hangul_word_start=False),
            PhraseMatcher(cues, hangul_word_start=False),
            sov=all(lex.word_order == "sov" for lex in lexes),
        )

    def _tools_for(self, lang: str, text: str) -> _LangTools | None:
        if lang in self._langs:
            return self._langs[lang]
        script = next((script_of(c) for c in text if c.isalpha()), "latin")
        return self._scripts.get(script)

    def actors(self, text: str, lang: str, folded: str | None = None) -> list[Match[ActorPayload]]:
        """Actor mentions in a text.

        A Latin-script name counts only in the languages it is given for ("Island" is Iceland
        in German, not in English); names in other scripts are shared by few languages and
        count everywhere, so a Russian/Ukrainian or Arabic/Persian mix-up in language
        identification loses nothing.
        """
        known = lang in self._name_langs
        found = [
            m
            for m in [*self._actors.find(text, folded), *self._exact.find(text)]
            if "*" in m.payload[1]
            or lang in m.payload[1]
            or not known
            or script_of(text[m.start]) != "latin"
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
        self, sentence: str, lang: str, mentions: list[Match[ActorPayload]] | None = None
    ) -> list[tuple[CameoCode, Match[ActorPayload], Match[ActorPayload], Match[str], bool]]:
        """Events in one sentence: (code, source, target, trigger, directed)."""
        folded = fold(sentence)
        if mentions is None:
            mentions = self.actors(sentence, lang, folded)
        if len({m.payload[0].code for m in mentions}) < 2:
            return []
        tools = self._tools_for(lang, sentence)
        if tools is None:
            return []
        triggers = [t for t in tools.triggers.find(sentence, folded) if t.payload in self.codes]
        triggers = [t for t in triggers if not _inside_any(t, mentions)]
        if not triggers:
            return []
        trigger = triggers[-1] if tools.sov else triggers[0]
        cues = [
            c
            for c in tools.cues.find(sentence, folded)
            if c.end <= trigger.start
            and trigger.start - c.end <= CUE_WINDOW
            or trigger.start <= c.start < trigger.end + CUE_WINDOW // 2
            and c.payload.kind == "negation"
        ]
        if any(c.payload.kind in ("negation", "speculation") for c in cues):
            return []
        code = self.codes[trigger.payload]
        if any(c.payload.kind == "future" for c in cues) and code.root == "04":
            code = self.codes.get("036", code)
        pair = _source_target(mentions, trigger, tools.sov, sentence)
        if pair is None:
            return []
        source, target, directed = pair
        return [(code, source, target, trigger, directed)]

    def code(self, article: CleanArticle, coded_at: datetime | None = None) -> list[CodedEvent]:
        """All events of an article, one per (pair, code), with evidence."""
        now = coded_at or utcnow()
        events: dict[str, CodedEvent] = {}
        sents = sentences(article.title, article.text, self.knowledge.boilerplate.patterns)
        found = [self.actors(sent.text, article.lang) for sent in sents]
        # Ambiguous names ("Georgia", "Jordan", 서울) count only where an unambiguous name
        # of the same state appears somewhere in the article.
        confirmed = {m.payload[0].code for ms in found for m in ms if not m.payload[2]}
        for sent, mentions in zip(sents, found, strict=True):
            mentions = [m for m in mentions if not m.payload[2] or m.payload[0].code in confirmed]
            for code, src, tgt, trig, directed in self.code_sentence(
                sent.text, article.lang, mentions
            ):
                ev = self._event(article, sent, code, src, tgt, trig, directed, now)
                if ev.event_id not in events or events[ev.event_id].confidence < ev.confidence:
                    events[ev.event_id] = ev
        return list(events.values())

    def _event(
        self,
        article: CleanArticle,
        sent: Sentence,
        code: CameoCode,
        src: Match[ActorPayload],
        tgt: Match[ActorPayload],
        trig: Match[str],
        directed: bool,
        now: datetime,
    ) -> CodedEvent:
        s_ref, t_ref = src.payload[0], tgt.payload[0]
        pair = "-".join(sorted((s_ref.code, t_ref.code)))
        confidence = 0.5 + 0.15 * directed + 0.1 * (len(code.code) == 3)
        confidence += 0.1 * (sent.is_title or sent.index <= 2)
        text = sent.text
        return CodedEvent(
            event_id=stable_id(article.id, pair, code.code),
            article_id=article.id,
            story_id=article.story_id,
            pair=pair,
            source=s_ref.code,
            target=t_ref.code,
            source_role=s_ref.role or None,
            target_role=t_ref.role or None,
            directed=directed,
            cameo=code.code,
            root=code.root,
            quad_class=code.quad_class,
            goldstein=code.goldstein,
            confidence=round(min(confidence, 0.95), 3),
            lang=article.lang,
            evidence=Evidence(
                sentence=text,
                trigger=Span(
                    text=text[trig.start : trig.end], start=trig.start, end=trig.end, code=code.code
                ),
                source=Span(
                    text=text[src.start : src.end], start=src.start, end=src.end, code=s_ref.code
                ),
                target=Span(
                    text=text[tgt.start : tgt.end], start=tgt.start, end=tgt.end, code=t_ref.code
                ),
            ),
            title=article.title,
            url=article.url,
            source_name=article.source,
            published_at=article.published_at,
            ingested_at=article.ingested_at,
            signature=article.signature,
            coded_at=now,
            coder_version=CODER_VERSION,
        )


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
    return 0 < len(gap) <= 4 and not any(ch.isdigit() for ch in gap)


def _source_target(
    mentions: list[Match[ActorPayload]], trigger: Match[str], sov: bool, text: str
) -> tuple[Match[ActorPayload], Match[ActorPayload], bool] | None:
    """Who acts on whom: nearest actor before the trigger acts on the nearest after it."""
    before = [m for m in mentions if m.end <= trigger.start]
    after = [m for m in mentions if m.start >= trigger.end]
    if sov:
        if not before:
            return None
        source = before[0]
        rest = [m for m in before[1:] + after if m.payload[0].code != source.payload[0].code]
        if not rest:
            return None
        target = min(rest, key=lambda m: abs(m.start - trigger.start))
        return source, target, target in before
    if len(before) >= 2 and _coordinated(before[-2], before[-1], text):
        a, b = before[-2], before[-1]
        if a.payload[0].code != b.payload[0].code:
            return a, b, False
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
    codes = [m for m in after]
    first = codes[0]
    others = [m for m in codes[1:] if m.payload[0].code != first.payload[0].code]
    if not others:
        return None
    return first, others[0], False
