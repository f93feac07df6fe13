"""The first coder on the project's own samples and on sentences written for these tests."""

from __future__ import annotations

import pytest
import yaml

from streams.ingest import read_path
from streams.normalize import normalize
from streams.records import CleanArticle
from tests.conftest import SAMPLES_DIR

EXPECTED = yaml.safe_load((SAMPLES_DIR / "expected.yaml").read_text(encoding="utf-8"))
RELATED = ("BACA JUGA", "Read more", "함께 읽기", "Читайте также", "اقرأ أيضا", "相关新闻")


def sample(name: str) -> CleanArticle:
    (msg,) = read_path(SAMPLES_DIR / "articles" / name, stamp=False)
    art = normalize(msg.value, 10_000_000)
    assert isinstance(art, CleanArticle)
    return art


def article(text: str, lang: str, title: str | None = None) -> CleanArticle:
    return CleanArticle(id="t", story_id="s", lang=lang, text=text, title=title)


def test_indonesian_visit_gives_irn_prk_visit_with_evidence(coder):
    events = coder.code(sample("id-korut-delegasi-teheran.json"))
    visits = [e for e in events if e.pair == "IRN-PRK" and e.root in ("03", "04")]
    assert visits
    ev = visits[0]
    assert (ev.source, ev.target) == ("PRK", "IRN")
    sent = ev.evidence.sentence
    assert sent[ev.evidence.trigger.start:ev.evidence.trigger.end] == ev.evidence.trigger.text
    assert ev.evidence.source.text in sent and ev.evidence.target.text in sent


@pytest.mark.parametrize("name", sorted(n for n, v in EXPECTED.items() if v["pairs"]))
def test_related_link_lines_never_give_events(coder, name):
    for ev in coder.code(sample(name)):
        assert not any(marker.casefold() in ev.evidence.sentence.casefold() for marker in RELATED)


@pytest.mark.parametrize("name", [
    "id-drama-korea-rating-tertinggi.json",
    "en-football-iran-beat-south-korea.json",
    "ru-pogoda-anomalnye-morozy-sibir.json",
    "id-wisatawan-china-ke-indonesia-naik.json",
])
def test_negatives_give_no_event(coder, name):
    assert coder.code(sample(name)) == []


def test_event_ids_are_deterministic_and_one_per_pair_and_code(coder):
    art = sample("id-korut-delegasi-teheran.json")
    first = coder.code(art)
    second = coder.code(art)
    assert [e.event_id for e in first] == [e.event_id for e in second]
    keys = [(e.pair, e.cameo) for e in first]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("text", "lang", "pair"), [
    ("North Korea's foreign minister visited Tehran on Monday.", "en", "IRN-PRK"),
    ("Delegasi Korea Utara mengunjungi Iran pekan lalu.", "id", "IRN-PRK"),
    ("La delegación de Corea del Norte visitó Irán el martes.", "es", "IRN-PRK"),
])
def test_visits_across_languages(coder, text, lang, pair):
    events = coder.code(article(text, lang))
    assert [(e.pair, e.root) for e in events] == [(pair, "04")]


def test_negation_and_plans(coder):
    assert coder.code(article("North Korea did not visit Iran this year.", "en")) == []
    (plan,) = coder.code(article("North Korea plans to visit Iran next month.", "en"))
    assert plan.cameo == "036"


def test_one_country_alone_or_no_trigger_is_no_event(coder):
    assert coder.code(article("Iran visited a trade fair in its own capital.", "en")) == []
    assert coder.code(article("Iran and North Korea are both in Asia.", "en")) == []


def test_boilerplate_only_article_gives_nothing(coder):
    text = "BACA JUGA: Korea Utara mengunjungi Iran\nRedaktur: Nama Orang\nCopyright © 2026"
    assert coder.code(article(text, "id")) == []
