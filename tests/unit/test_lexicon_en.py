"""English trigger families and actor forms, on sentences written for these tests."""

from __future__ import annotations

import pytest

from streams.coding.coder import Coder
from streams.records import CleanArticle


@pytest.fixture
def en_coder(coder: Coder) -> Coder:
    """The session's coder (tests/conftest.py): built once for every coder test."""
    return coder


def events(coder: Coder, text: str) -> list[tuple[str, str, str]]:
    art = CleanArticle(id="t", story_id="s", lang="en", text=text)
    return [(e.source, e.target, e.cameo) for e in coder.code(art)]


def top(coder: Coder, text: str) -> tuple[str, str, str]:
    art = CleanArticle(id="t", story_id="s", lang="en", text=text)
    found = coder.code(art)
    assert found, f"no event in {text!r}"
    e = max(found, key=lambda e: e.confidence)
    return e.source, e.target, e.cameo


@pytest.mark.parametrize(
    "text,pair,root",
    [
        # 01 statements
        ("Finland declined to comment on the Estonian request on Monday.", ("FIN", "EST"), "01"),
        ("Japan was pessimistic about new talks with China this year.", ("JPN", "CHN"), "01"),
        # 02 appeals
        ("Kenya renewed an appeal to Uganda to hand over the suspects.", ("KEN", "UGA"), "02"),
        ("Chile appealed for the release of sailors held by Peru.", ("CHL", "PER"), "02"),
        ("Nepal asked for help from India after the floods.", ("NPL", "IND"), "02"),
        # 03 intent
        ("Norway offered to send engineers to Mozambique next year.", ("NOR", "MOZ"), "03"),
        ("Sweden will support Ukraine's bid for candidate status, its minister said.", ("SWE", "UKR"), "03"),
        ("Austria is ready to contribute police officers to Bosnia.", ("AUT", "BIH"), "03"),
        ("Armenia agreed to withdraw its forces from areas claimed by Azerbaijan.", ("ARM", "AZE"), "03"),
        # 04 consult
        ("The Greek premier telephoned the Cypriot president on Sunday.", ("GRC", "CYP"), "04"),
        # 05 diplomatic cooperation
        ("Vietnam and Laos established diplomatic ties with an exchange of notes.", ("VNM", "LAO"), "05"),
        ("The Danish government welcomed the statement issued by Latvia.", ("DNK", "LVA"), "05"),
        # 06 material cooperation
        ("Romanian officials shared evidence with Moldova about the smuggling ring.", ("ROU", "MDA"), "06"),
        # 07 aid
        ("Spain gave aid to Morocco after the earthquake.", ("ESP", "MAR"), "07"),
        ("Peru granted diplomatic asylum to a Bolivian former minister.", ("PER", "BOL"), "07"),
        # 08 yield
        ("Serbia lifted the night curfew it had imposed on Montenegrin villages.", ("SRB", "MNE"), "08"),
        ("Chadian forces completed their withdrawal from the Sudanese border area.", ("TCD", "SDN"), "08"),
        ("Ethiopia reopened its border with Eritrea after two decades.", ("ETH", "ERI"), "08"),
        # 09 investigate
        ("Kenyan investigators opened an investigation into the Somali attack plot.", ("KEN", "SOM"), "09"),
        # 10 demand
        ("Ghana insisted that Togo pay for the damaged trucks.", ("GHA", "TGO"), "10"),
        ("Nigeria said Cameroon must withdraw its gendarmes from the peninsula.", ("NGA", "CMR"), "10"),
        # 11 disapprove
        ("Croatia lodged an official protest with Serbia over the incident.", ("HRV", "SRB"), "11"),
        ("Thailand complained about Cambodian troop movements.", ("THA", "KHM"), "11"),
        # 12 reject
        ("Bangladesh rejected an Indian proposal for a new water treaty.", ("BGD", "IND"), "12"),
        ("Algeria refused to lift its restrictions on Moroccan trucks.", ("DZA", "MAR"), "12"),
        # 13 threaten
        ("Kuwait threatened to break off relations with Iraq over the border.", ("KWT", "IRQ"), "13"),
        # 16 reduce relations
        ("The Hungarian minister cancelled a planned visit to Slovakia.", ("HUN", "SVK"), "16"),
        ("The United States suspended funding for Honduran schools.", ("USA", "HND"), "16"),
        # 17 coerce
        ("Israeli bulldozers demolished Palestinian homes near Hebron.", ("ISR", "PSE"), "17"),
        # 18 assault
        ("Ugandan soldiers sexually abused Congolese detainees, a report said.", ("UGA", "COD"), "18"),
    ],
)
def test_trigger_families_give_the_root(en_coder, text, pair, root):
    src, tgt, cameo = top(en_coder, text)
    assert {src, tgt} == set(pair), (text, src, tgt, cameo)
    assert cameo.startswith(root), (text, cameo)


@pytest.mark.parametrize(
    "text,code",
    [
        ("Hungarian officials met Romanian diplomats in a border town.", {"HUN", "ROU"}),
        ("Israeli jets struck Hamas positions overnight.", {"ISR", "PSE"}),
        ("Polish and Czech ministers signed the accord.", {"POL", "CZE"}),
        ("President Obama met the Moroccan king.", {"USA", "MAR"}),
        ("Ivory Coast and Burma agreed to exchange ambassadors.", {"CIV", "MMR"}),
    ],
)
def test_demonyms_and_names_give_states(en_coder, text, code):
    found = events(en_coder, text)
    assert any({s, t} == code for s, t, _ in found), found


def test_polish_as_a_verb_is_no_state(en_coder):
    found = events(en_coder, "Workers polish the Swiss trophy before Hungarian officials arrive.")
    assert not any("POL" in (s, t) for s, t, _ in found), found


def test_mobilized_is_not_a_troop_buildup_when_it_is_opinion(en_coder):
    found = events(en_coder, "Egypt mobilized support among Arab states against Libyan plans.")
    assert not any(c.startswith("15") for _, _, c in found), found


def test_lifted_sanctions_beats_plain_lifted(en_coder):
    assert top(en_coder, "Canada lifted sanctions on Syrian banks.")[2] == "085"


def test_refusing_to_yield_is_more_precise_than_refusing(en_coder):
    assert top(en_coder, "Greece refused to withdraw its objection to Macedonia's name.")[2] == "124"
