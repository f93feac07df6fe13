"""One-character state abbreviations in zh / ja / ko compounds (streams/coding/abbrev.py,
configs/actors/abbreviations.yaml).  Invented example sentences only."""

from __future__ import annotations

from pathlib import Path

import pycountry
import pytest
import yaml

from streams.coding.abbrev import AbbrevTable, find_abbreviations, load_abbreviations
from streams.coding.lexicon import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "configs" / "actors" / "abbreviations.yaml"


@pytest.fixture(scope="module")
def table() -> AbbrevTable:
    return load_abbreviations(PATH)


def found(text: str, lang: str, table: AbbrevTable) -> list[tuple[str, str]]:
    return [(text[s:e], code) for s, e, code in find_abbreviations(text, lang, table)]


# --------------------------------------------------------------------------- data


def test_sections_and_codes():
    data = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    assert set(data) == {"zh", "ja", "ko"}
    for lang, sec in data.items():
        seen: dict[str, str] = {}
        for code, chars in sec["abbreviations"].items():
            assert pycountry.countries.get(alpha_3=code) is not None, f"{lang}: {code}"
            for ch in chars:
                assert len(ch) == 1 and ch not in seen, f"{lang}: {ch!r}"
                seen[ch] = code
        for key, codes in (sec.get("compounds") or {}).items():
            assert len(key) == len(codes), f"{lang}.compounds.{key}"
            for code in codes:
                assert pycountry.countries.get(alpha_3=code) is not None, f"{lang}: {code}"


def test_core_characters(table):
    zh = table.langs["zh"].chars
    for ch, code in {"中": "CHN", "俄": "RUS", "朝": "PRK", "韩": "KOR", "美": "USA",
                     "日": "JPN", "乌": "UKR", "以": "ISR", "伊": "IRN"}.items():
        assert zh[ch] == code
    ja = table.langs["ja"].chars
    for ch, code in {"日": "JPN", "米": "USA", "中": "CHN", "韓": "KOR", "朝": "PRK",
                     "露": "RUS", "ロ": "RUS"}.items():
        assert ja[ch] == code
    ko = table.langs["ko"].chars
    for ch, code in {"한": "KOR", "북": "PRK", "미": "USA", "중": "CHN", "러": "RUS",
                     "일": "JPN"}.items():
        assert ko[ch] == code


def test_not_loaded_as_alias_file():
    from streams.coding.lexicon import load_knowledge

    k = load_knowledge(ROOT / "configs", cldr=False)
    assert k.abbreviations is not None and "ko" in k.abbreviations.langs
    assert not any(name == "中" for name, _ref, _lang in k.names)


def test_not_in_ambiguous_yaml():
    amb = yaml.safe_load((ROOT / "configs" / "actors" / "ambiguous.yaml").read_text("utf-8"))
    assert not {"zh_abbrev", "ja_abbrev", "ko_abbrev"} & set(amb)


# --------------------------------------------------------------------------- loader errors


@pytest.mark.parametrize("body,message", [
    ("- just a list\n", "expected a mapping of language"),
    ("zh: {abbreviations: {CHINA: [中]}}\n", "not an ISO 3166-1 alpha-3"),
    ("zh: {abbreviations: {CHN: [中国]}}\n", "single character"),
    ("zh: {abbreviations: {CHN: [中], TWN: [中]}}\n", "used for both"),
    ("zh: {abbreviations: {CHN: [中]}, colour: red}\n", "unknown keys"),
    ("zh: {abbreviations: {CHN: [中]}, compounds: {巴以: [PSE]}}\n", "one ISO-3 code per"),
    ("zh: {abbreviations: {CHN: [中]}, blocker_patterns: ['(']}\n", "blocker_patterns"),
    ("zh: {abbreviations: {CHN: [中]}, max_states: 1}\n", "max_states"),
    ("zh: [unclosed\n", "abbrev.yaml"),
])
def test_config_errors_name_the_file(tmp_path, body, message):
    path = tmp_path / "abbrev.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_abbreviations(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


# --------------------------------------------------------------------------- Chinese


@pytest.mark.parametrize("text,expected", [
    ("中俄关系保持高水平发展。", [("中", "CHN"), ("俄", "RUS")]),
    ("朝俄两国签署了新的条约。", [("朝", "PRK"), ("俄", "RUS")]),
    ("美韩联合军演下周开始。", [("美", "USA"), ("韩", "KOR")]),
    ("外界关注中美元首会晤的成果。", [("中", "CHN"), ("美", "USA")]),
    ("中日韩峰会在首尔召开。", [("中", "CHN"), ("日", "JPN"), ("韩", "KOR")]),
    ("俄乌冲突仍在持续。", [("俄", "RUS"), ("乌", "UKR")]),
    ("美以关系出现裂痕。", [("美", "USA"), ("以", "ISR")]),
    ("巴以冲突造成伤亡。", [("巴", "PSE"), ("以", "ISR")]),
    ("中・俄两国外长通话。", [("中", "CHN"), ("俄", "RUS")]),
    ("中俄關係穩定發展。", [("中", "CHN"), ("俄", "RUS")]),
])
def test_zh_compounds(table, text, expected):
    assert found(text, "zh", table) == expected


@pytest.mark.parametrize("text,expected", [
    # a stray character glued to the left is another word
    ("其中美日两国的同盟受到关注。", [("美", "USA"), ("日", "JPN")]),
    ("当地时间5日中俄两国外长会谈。", [("中", "CHN"), ("俄", "RUS")]),
    ("以中美关系为例，双方分歧明显。", [("中", "CHN"), ("美", "USA")]),
])
def test_zh_trims_glued_characters(table, text, expected):
    assert found(text, "zh", table) == expected


@pytest.mark.parametrize("text", [
    "伊朗与美国恢复谈判。",               # full names never split
    "中国和俄罗斯的关系不断深化。",
    "朝鲜和韩国举行会谈。",
    "这个方案美中不足的是成本太高。",      # idiom
    "中美洲国家加强合作。",               # Central America
    "对于这些问题应当加以合作解决。",      # 加以 is a verb
    "这本词典是中英文对照的。",            # Chinese-English
    "中美两个字并排写在纸上",             # no relation word: not enough
    "今天天气很好，我们去公园散步。",
    "她的美德赢得了大家的尊重。",          # virtue
])
def test_zh_negatives(table, text):
    assert found(text, "zh", table) == []


# --------------------------------------------------------------------------- Japanese


@pytest.mark.parametrize("text,expected", [
    ("日米首脳会談が開かれた。", [("日", "JPN"), ("米", "USA")]),
    ("米中対立が長引いている。", [("米", "USA"), ("中", "CHN")]),
    ("露朝首脳会談で合意した。", [("露", "RUS"), ("朝", "PRK")]),
    ("日韓関係の改善が進む。", [("日", "JPN"), ("韓", "KOR")]),
    ("中露の接近", []),                                  # の is not a relation word
    ("日ロ首脳会談が行われた。", [("日", "JPN"), ("ロ", "RUS")]),
    ("日・米・韓の連携を確認した。", [("日", "JPN"), ("米", "USA"), ("韓", "KOR")]),
    ("米中間の貿易摩擦が続く。", [("米", "USA"), ("中", "CHN")]),
    ("第3回日中韓首脳会談が開かれた。", [("日", "JPN"), ("中", "CHN"), ("韓", "KOR")]),
    ("5日日米首脳会談が行われた。", [("日", "JPN"), ("米", "USA")]),
])
def test_ja_compounds(table, text, expected):
    assert found(text, "ja", table) == expected


@pytest.mark.parametrize("text", [
    "朝露が草の葉に光っていた。",           # morning dew
    "朝露関係という言葉はない。",           # hazard even before a relation word
    "日中は晴れて暑くなる見込みです。",       # daytime
    "米中間選挙の結果が注目される。",        # US midterm elections
    "在日米軍の再編が進む。",               # 在日 + 米軍
    "会談中米側は沈黙した。",               # 会談中 + 米側
    "テロ対策とヨーロッパ情勢",              # katakana ロ inside words
    "日・英・中・韓語に対応しています。",      # a list of languages
    "中国と日本の関係",
    "北米と南米を旅行した。",
])
def test_ja_negatives(table, text):
    assert found(text, "ja", table) == []


# --------------------------------------------------------------------------- Korean


@pytest.mark.parametrize("text,expected", [
    ("북러 정상회담이 열렸다.", [("북", "PRK"), ("러", "RUS")]),
    ("북중 관계가 강화됐다.", [("북", "PRK"), ("중", "CHN")]),
    ("한미 연합훈련이 시작됐다.", [("한", "KOR"), ("미", "USA")]),
    ("한미일 3국 정상회의가 열렸다.", [("한", "KOR"), ("미", "USA"), ("일", "JPN")]),
    ("한·미·일 안보 협력", [("한", "KOR"), ("미", "USA"), ("일", "JPN")]),
    ("미중 갈등이 격화하고 있다.", [("미", "USA"), ("중", "CHN")]),
    ("북러는 조약을 체결했다.", [("북", "PRK"), ("러", "RUS")]),
    ("한미동맹을 강화한다.", [("한", "KOR"), ("미", "USA")]),
    ("러우 전쟁이 장기화하고 있다.", [("러", "RUS"), ("우", "UKR")]),
    ("남북 관계가 경색됐다.", [("남", "KOR"), ("북", "PRK")]),
    ("북·미 협상이 재개됐다.", [("북", "PRK"), ("미", "USA")]),
    ("미러 정상회담", [("미", "USA"), ("러", "RUS")]),
])
def test_ko_compounds(table, text, expected):
    assert found(text, "ko", table) == expected


@pytest.mark.parametrize("text", [
    "북미 정상회담이 결렬됐다.",             # North America or DPRK-US: skipped
    "중미 국가들과 협력한다.",               # Central America
    "남미 여행을 떠났다.",                   # South America
    "북한과 러시아는 군사 협력을 강화했다.",   # full names
    "한국과 미국은 동맹이다.",
    "일본은 중국과 대화했다.",
    "사이드 미러가 깨졌다.",                 # mirror
    "미러는 깨끗하다.",                      # particle alone is not enough for 미러
    "우한에서 일어난 일",
    "일러스트를 그렸다.",
    "그는 대한미술협회 회원이다.",            # not at a word start
])
def test_ko_negatives(table, text):
    assert found(text, "ko", table) == []


def test_spans_point_into_text(table):
    text = "회담 후 한미 양국은 공동성명을 냈다."
    spans = find_abbreviations(text, "ko", table)
    assert spans == [(5, 6, "KOR"), (6, 7, "USA")]


def test_unknown_language_and_empty_text(table):
    assert find_abbreviations("中俄关系", "en", table) == []
    assert find_abbreviations("", "zh", table) == []
