"""Lexicon and actor-name coverage in 14 languages, on invented sentences.

Each case names a general family (case forms of names, spellings, trigger phrasing, cues),
not a single sentence: the sentences are written for these tests.
"""

from __future__ import annotations

import pytest

from streams.coding.coder import Coder
from streams.records import CleanArticle


def _events(coder: Coder, lang: str, text: str) -> set[tuple[str, str]]:
    article = CleanArticle(id="t", story_id="t", lang=lang, text=text)
    return {(e.pair, e.root) for e in coder.code(article) if e.source != e.target}


def _codes(coder: Coder, lang: str, text: str) -> set[str]:
    return {m.payload[0].code for m in coder.actors(text, lang)}


# --- Russian / Ukrainian: oblique case forms of state names ---------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "codes"),
    [
        ("ru", "Делегация прибыла из Китая, а не из Москвы.", {"CHN", "RUS"}),
        ("ru", "Переговоры с Северной Кореей и Южной Кореей.", {"PRK", "KOR"}),
        ("ru", "Письмо Соединённым Штатам и Зеленскому.", {"USA", "UKR"}),
        ("uk", "Переговори з Росією та Китаєм.", {"RUS", "CHN"}),
        ("uk", "Делегація Північної Кореї прилетіла до Москви.", {"PRK", "RUS"}),
        ("uk", "Посол України та посол Сполучених Штатів.", {"UKR", "USA"}),
        ("uk", "Зустріч у Туреччині щодо Сирії та Ізраїлю.", {"TUR", "SYR", "ISR"}),
    ],
)
def test_slavic_case_forms(coder: Coder, lang: str, text: str, codes: set[str]) -> None:
    assert codes <= _codes(coder, lang, text)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ru", "Экспорт в страны Латинской Америки вырос."),
        ("uk", "Експорт до країн Латинської Америки зріс."),
    ],
)
def test_latin_america_is_not_usa(coder: Coder, lang: str, text: str) -> None:
    assert "USA" not in _codes(coder, lang, text)


def test_uk_present_tense_visit(coder: Coder) -> None:
    assert ("IRN-PRK", "04") in _events(coder, "uk", "Урядова делегація КНДР відвідує Іран.")


def test_uk_visit_with_case_forms(coder: Coder) -> None:
    text = "Міністр оборони Росії відвідав Пхеньян для переговорів."
    assert ("PRK-RUS", "04") in _events(coder, "uk", text)


# --- Persian: Dari/BBC spellings and text without zero-width non-joiners --------------------


def test_fa_north_korea_spellings(coder: Coder) -> None:
    for name in ("کوریای شمالی", "کره‌ی شمالی", "کرهی شمالی", "پیونگیانگ"):
        assert "PRK" in _codes(coder, "fa", f"گزارش درباره {name} منتشر شد"), name


def test_fa_trigger_without_zwnj(coder: Coder) -> None:
    text = "روسیه و ایران درباره همکاریهای دفاعی گفتوگو کردند"
    assert _events(coder, "fa", text)


# --- "at the invitation of" describes a visit, not an invitation ----------------------------


@pytest.mark.parametrize(
    ("lang", "text", "pair"),
    [
        ("ru", "Премьер Вьетнама прибыл в Пекин по приглашению Си Цзиньпина.", "CHN-VNM"),
        ("ar", "وصل الرئيس الإيراني إلى موسكو بدعوة من فلاديمير بوتين.", "IRN-RUS"),
        ("ja", "プーチン大統領は習近平国家主席の招きで北京に到着した。", "CHN-RUS"),
    ],
)
def test_invitation_of_is_a_visit(coder: Coder, lang: str, text: str, pair: str) -> None:
    events = _events(coder, lang, text)
    assert (pair, "04") in events
    assert (pair, "03") not in events


def test_fr_future_tense_visit_is_planned(coder: Coder) -> None:
    text = "Le ministre iranien effectuera jeudi une visite de travail chez son homologue chinois."
    events = _events(coder, "fr", text)
    assert ("CHN-IRN", "03") in events
    assert ("CHN-IRN", "04") not in events


# --- intent to strengthen military cooperation is 03, the cooperation itself is 06 -------


@pytest.mark.parametrize(
    ("lang", "text", "pair"),
    [
        ("ar", "اتفقت روسيا وإيران على تعزيز التعاون العسكري بينهما.", "IRN-RUS"),
        ("ru", "Россия и Иран договорились об укреплении военного сотрудничества.", "IRN-RUS"),
        ("ja", "ロシアは北朝鮮と軍事協力を強化する方針だ。", "PRK-RUS"),
        ("zh", "俄罗斯愿同伊朗深化军事合作。", "IRN-RUS"),
        ("ko", "러시아는 이란과 군사 협력을 강화하기로 했다.", "IRN-RUS"),
    ],
)
def test_strengthen_military_cooperation_is_intent(
    coder: Coder, lang: str, text: str, pair: str
) -> None:
    events = _events(coder, lang, text)
    assert (pair, "03") in events
    assert (pair, "06") not in events


# --- joint drills, arms supply ---------------------------------------------------------------


def test_id_joint_naval_drill(coder: Coder) -> None:
    text = "Angkatan laut Iran dan Rusia menggelar latihan angkatan laut gabungan di Teluk Oman."
    assert ("IRN-RUS", "06") in _events(coder, "id", text)


def test_ja_shells_supplied_not_shelling(coder: Coder) -> None:
    text = "北朝鮮はロシアに砲弾を供給していると韓国国防省が発表した。"
    events = _events(coder, "ja", text)
    assert ("PRK-RUS", "06") in events
    assert not any(root == "19" for _pair, root in events)


def test_ja_visit_destination_is_a_place(coder: Coder) -> None:
    text = "ロシアのラブロフ外相は、訪問先の中国で北朝鮮の崔善姫外相と会談した。"
    events = _events(coder, "ja", text)
    assert not any("CHN" in pair for pair, _root in events)


# --- naming weapons of mass destruction is not using them -----------------------------------


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ru", "США обвинили Иран в разработке оружия массового уничтожения."),
        ("zh", "美国指责伊朗研发大规模杀伤性武器。"),
        ("ko", "미국은 북한의 대량살상무기 개발을 비판했다."),
    ],
)
def test_wmd_mention_is_not_204(coder: Coder, lang: str, text: str) -> None:
    assert not any(root == "20" for _pair, root in _events(coder, lang, text))


# --- cue words -------------------------------------------------------------------------------


def test_tr_speculation(coder: Coder) -> None:
    text = "Rusya ile İran arasında muhtemel bir silah anlaşması konuşuluyor."
    assert not _events(coder, "tr", text)


def test_zh_free_trade_rhetoric_is_not_a_trade_event(coder: Coder) -> None:
    text = "中方批评美方破坏全球自由贸易秩序。"
    assert ("CHN-USA", "06") not in _events(coder, "zh", text)


def test_zh_countermeasures_are_threats(coder: Coder) -> None:
    text = "针对美国的新措施，中国商务部表示将采取反制措施。"
    assert ("CHN-USA", "13") in _events(coder, "zh", text)
