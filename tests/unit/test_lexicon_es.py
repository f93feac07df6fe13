"""Spanish trigger families, role words and actor forms, on sentences written for these tests.

Wire-news Spanish names governments by title and demonym ("el canciller peruano"), by
capital or seat of government ("el gobierno de Bogotá", "la Casa de Nariño"), and reports
much one-country unrest: strikes, marches, road blocks, riots and their repression.
"""

from __future__ import annotations

import pytest

from streams.coding.coder import Coder
from streams.records import CleanArticle


@pytest.fixture
def es_coder(coder: Coder) -> Coder:
    """The session's coder (tests/conftest.py): built once for every coder test."""
    return coder


def coded(coder: Coder, text: str) -> list[tuple[str, str, str]]:
    art = CleanArticle(id="t", story_id="s", lang="es", text=text)
    found = sorted(coder.code(art), key=lambda e: -e.confidence)
    return [(e.source, e.target, e.cameo) for e in found]


def top(coder: Coder, text: str) -> tuple[str, str, str]:
    found = coded(coder, text)
    assert found, f"no event in {text!r}"
    return found[0]


# --------------------------------------------------------------------------- two states


@pytest.mark.parametrize(
    "text,pair,root",
    [
        # demonyms in all four forms, titles, capitals and seats of government
        ("El presidente colombiano criticó duramente al gobierno venezolano por el cierre de la frontera.", ("COL", "VEN"), "11"),
        ("La canciller peruana se reunió en Quito con su homólogo ecuatoriano.", ("PER", "ECU"), "04"),
        ("El gobierno de Bogotá acusó a Caracas de proteger a los rebeldes.", ("COL", "VEN"), "11"),
        ("La Casa de Nariño rechazó las acusaciones del gobierno ecuatoriano.", ("COL", "ECU"), "12"),
        ("El ministro chileno condenó el ataque contra la embajada boliviana.", ("CHL", "BOL"), "11"),
        ("Las autoridades hondureñas expulsaron a dos diplomáticos nicaragüenses.", ("HND", "NIC"), "17"),
        ("El gobierno español y el marroquí firmaron un acuerdo de pesca en Rabat.", ("ESP", "MAR"), "05"),
        ("El canciller argentino viajó a Madrid para reunirse con el presidente del gobierno español.", ("ARG", "ESP"), "04"),
        ("Las tropas salvadoreñas y hondureñas se enfrentaron otra vez en la zona limítrofe.", ("SLV", "HND"), "19"),
        ("La oposición paraguaya pidió la renuncia del presidente venezolano.", ("PRY", "VEN"), "10"),
        ("Los sindicatos argentinos amenazaron con un paro nacional contra el gobierno uruguayo.", ("ARG", "URY"), "13"),
        ("El gobierno panameño presentó una protesta formal ante la cancillería costarricense.", ("PAN", "CRI"), "11"),
        ("Las autoridades guatemaltecas detuvieron a tres ciudadanos mexicanos en la frontera.", ("GTM", "MEX"), "17"),
        # leaders by name
        ("Petro criticó a Noboa por los aranceles a los productos colombianos.", ("COL", "ECU"), "11"),
        ("Pedro Sánchez recibió en la Moncloa al presidente paraguayo Santiago Peña.", ("ESP", "PRY"), "04"),
    ],
)
def test_two_state_events(es_coder: Coder, text: str, pair: tuple[str, str], root: str) -> None:
    found = coded(es_coder, text)
    assert found, f"no event in {text!r}"
    roots = {c[:2] for s, t, c in found if {s, t} == set(pair)}
    assert roots, f"{pair} not among {found}"
    assert root in roots, found


# --------------------------------------------------------------------------- one state, unrest


@pytest.mark.parametrize(
    "text,code",
    [
        # 141 demonstrate, march
        ("Miles de maestras bolivianas marcharon por el centro de la ciudad.", "141"),
        ("Los estudiantes se manifestaron frente al Congreso contra la reforma educativa.", "141"),
        ("Los jubilados protestaron frente al ministerio de Economía.", "141"),
        ("Cientos de vecinos realizaron un cacerolazo contra el alza de la luz.", "141"),
        # 142 hunger strike
        ("Tres dirigentes sindicales cumplen una huelga de hambre en la catedral.", "142"),
        # 143 strike
        ("Los mineros chilenos iniciaron una huelga indefinida el lunes.", "143"),
        ("Los transportistas paraguayos iniciaron un paro nacional contra el alza del combustible.", "143"),
        ("Los médicos del hospital público paralizaron sus actividades por segundo día.", "143"),
        # 144 block
        ("Los campesinos bloquearon la carretera principal durante tres días.", "144"),
        ("Los piqueteros cortaron la ruta que une las dos provincias.", "144"),
        # 145 riot
        ("Decenas de presos se amotinaron en una cárcel de la capital.", "145"),
        ("Cientos de personas saquearon comercios en el centro de la ciudad.", "145"),
        ("Grupos de jóvenes lanzaron piedras contra la sede del gobierno regional.", "145"),
        # 17 repression and arrests
        ("La policía dispersó a los manifestantes con gases lacrimógenos.", "175"),
        ("Los carabineros reprimieron una marcha de estudiantes universitarios.", "175"),
        ("El ejército peruano capturó a un cabecilla de la guerrilla.", "173"),
        # 18 / 19 violence by non-state actors
        ("Un grupo armado secuestró a dos ingenieros en el sur del país.", "181"),
        ("La guerrilla dinamitó una torre de energía en el norte del país.", "183"),
        ("Los guerrilleros tendieron una emboscada a una patrulla del ejército.", "190"),
    ],
)
def test_one_state_unrest(es_coder: Coder, text: str, code: str) -> None:
    assert top(es_coder, text)[2] == code


# --------------------------------------------------------------------------- hazards


@pytest.mark.parametrize(
    "text",
    [
        # "paro" is also unemployment, "marcha" also "under way", "manifestar" also "express"
        "La tasa de paro subió al doce por ciento en marzo, según el ministerio.",
        "El ministro se manifestó optimista sobre la puesta en marcha del nuevo plan.",
        "La empresa manifestó su apoyo a la iniciativa del gobierno.",
        "El proyecto sigue en marcha pese a las críticas.",
        # "español" / "portugués" as languages, Spain as a sports opponent
        "El libro fue traducido al español y al portugués.",
        "La selección española venció a Portugal en el partido amistoso.",
        # a strike called off is not a strike; a denied protest is none
        "Los dirigentes sindicales levantaron la huelga tras un acuerdo con el gobierno.",
        "Los estudiantes no realizaron ninguna protesta durante la visita.",
    ],
)
def test_no_event(es_coder: Coder, text: str) -> None:
    assert coded(es_coder, text) == []


def test_demonym_stems_cover_feminine_and_plural(es_coder: Coder) -> None:
    for form, code in [
        ("colombiana", "COL"), ("colombianas", "COL"), ("peruanos", "PER"),
        ("ecuatoriana", "ECU"), ("venezolanas", "VEN"), ("cubana", "CUB"),
        ("mexicanas", "MEX"), ("brasileña", "BRA"), ("norteamericana", "USA"),
        ("paraguaya", "PRY"), ("uruguayos", "URY"), ("nicaragüenses", "NIC"),
        ("salvadoreña", "SLV"), ("guatemaltecos", "GTM"), ("panameñas", "PAN"),
        ("española", "ESP"), ("costarricenses", "CRI"), ("dominicanos", "DOM"),
    ]:
        text = f"La delegación {form} llegó ayer."
        codes = {m.payload[0].code for m in es_coder.actors(text, "es")}
        assert code in codes, f"{form!r} -> {codes}"


def test_ambiguous_capitals_need_case_and_context(es_coder: Coder) -> None:
    # "la paz" (peace) and "la moneda" (currency) in lower case are not Bolivia or Chile.
    for text in ["El acuerdo trajo la paz a la región.", "La moneda local se depreció."]:
        assert es_coder.actors(text, "es") == [], text
    # "La Paz" counts only beside another Bolivian name.
    assert coded(es_coder, "Miles de personas marcharon en La Paz.") in ([], [("CVL", "CVL", "141")])
    found = coded(es_coder, "El gobierno boliviano denunció desde La Paz el bloqueo chileno.")
    assert found and {found[0][0], found[0][1]} == {"BOL", "CHL"}
