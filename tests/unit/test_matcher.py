from streams.coding.matcher import PhraseMatcher


def spans(m, text):
    return [(text[x.start:x.end], x.payload) for x in m.find(text)]


def test_whole_words_only_in_spaced_scripts():
    m = PhraseMatcher([("Iran", "IRN"), ("Oman", "OMN")])
    assert spans(m, "Iran and Oman") == [("Iran", "IRN"), ("Oman", "OMN")]
    assert spans(m, "Iranian womanhood") == []


def test_longest_match_wins():
    m = PhraseMatcher([("Korea", "KOR?"), ("Korea Utara", "PRK")])
    assert spans(m, "Delegasi Korea Utara tiba") == [("Korea Utara", "PRK")]


def test_star_matches_word_continuation():
    m = PhraseMatcher([("visit*", "042")])
    assert spans(m, "He visited Tehran") == [("visited", "042")]
    assert spans(m, "revisit") == []


def test_inflection_suffixes_and_clitic_prefixes_by_script():
    m = PhraseMatcher(
        [("Иран", "IRN"), ("إيران", "IRN")],
        prefixes={"arabic": frozenset({"و", "ب"})},
        suffixes={"cyrillic": frozenset({"а", "ом"})},
    )
    assert spans(m, "с Ираном и Ирана") == [("Иран", "IRN"), ("Иран", "IRN")]
    assert spans(m, "Иранск") == []
    assert [p for _, p in spans(m, "وإيران وبإيران")] == ["IRN"]


def test_unspaced_scripts_match_inside_text_and_hangul_takes_particles():
    m = PhraseMatcher([("伊朗", "IRN"), ("이란", "IRN"), ("북한", "PRK")])
    assert spans(m, "朝鲜代表团访问伊朗") == [("伊朗", "IRN")]
    assert spans(m, "북한은 이란을 방문했다") == [("북한", "PRK"), ("이란", "IRN")]
    assert spans(m, "협력이란") == []


def test_case_sensitive_acronyms():
    m = PhraseMatcher([("US", "USA")], case_sensitive=True)
    assert spans(m, "the US and us") == [("US", "USA")]


def test_offsets_survive_length_changing_case_folding():
    m = PhraseMatcher([("iran", "IRN")])
    text = "İİ Iran"
    (found,) = m.find(text)
    assert text[found.start:found.end] == "Iran"


def test_lower_casing_keeps_every_characters_word_class():
    """The folded text has the text's word boundaries: the case-sensitive matcher (on the
    text) and the others (on the folded text) agree on where words start and end."""
    from streams.coding.matcher import _NON_WORD, word_shape
    from streams.coding.text import fold

    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        low = ch.lower()
        if len(low) == 1:
            assert bool(_NON_WORD.match(ch)) == bool(_NON_WORD.match(low)), hex(cp)
            assert (ch == "_") == (low == "_"), hex(cp)
    text = "İstanbul'da ΣΟΦΊΑ_Ⅻ, «Korea Utara» — 북한이 ẞ straße"
    assert fold(word_shape(text)) == word_shape(fold(text))


def test_word_shape_table_agrees_with_the_regex_it_was_read_from():
    """The table lookup must give the regex's shape on any text, lone surrogates included."""
    import random

    from streams.coding.matcher import SEP, _regex_shape, word_shape

    rng = random.Random(5)
    pools = [range(0x20, 0x250), range(0x300, 0x700), range(0x3000, 0x3100), range(0xAC00, 0xAC80),
             range(0xD7F0, 0xE010), range(0x1F300, 0x1F340), range(0x20000, 0x20010)]
    for _ in range(300):
        text = "".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(0, 80)))
        assert word_shape(text) == _regex_shape(text), ascii(text)
    assert word_shape("Kim_Jong Un, 北朝鮮\ud800!") == f"Kim{SEP}Jong{SEP}Un{SEP}{SEP}北朝鮮{SEP}{SEP}"


def _longest_first_reference(matches):
    """The definition, naively: longest first (earlier first among equals), a match is
    kept unless it overlaps a kept match of another span; identical matches count once."""
    kept = []
    for m in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        if m in kept:
            continue
        if all((k.start, k.end) == (m.start, m.end) or k.end <= m.start or m.end <= k.start
               for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)  # stable: one span's meanings keep their order


def test_longest_non_overlapping_agrees_with_its_definition_on_random_matches():
    import random

    from streams.coding.matcher import Match, longest_non_overlapping

    rng = random.Random(11)
    for _ in range(3000):
        n = rng.randint(0, 12)
        matches = []
        for _ in range(n):
            start = rng.randint(0, 30)
            matches.append(Match(start, start + rng.randint(1, 6), rng.choice("abc")))
        assert longest_non_overlapping(matches) == _longest_first_reference(matches), matches


def test_names_beyond_latin1_are_found_in_mostly_latin_text():
    """A matcher of only non-Latin-1 names skips texts in Latin-1 alone: one such character
    in a Latin text is enough to be scanned."""
    m = PhraseMatcher([("Иран", "IRN"), ("北朝鮮", "PRK")])
    assert spans(m, "Tehran (Иран) y Pyongyang") == [("Иран", "IRN")]
    assert spans(m, "Teherán y Pyongyang: «Irán»") == []
    assert spans(m, "Kim in 北朝鮮") == [("北朝鮮", "PRK")]


def test_multimatcher_gives_each_set_what_its_own_matcher_gives():
    """One scan for several phrase sets: each set's matches are its own matcher's, whatever
    the other sets hold (the same keys in both, clitics and endings in one only)."""
    import random

    from streams.coding.matcher import MultiMatcher, longest_non_overlapping

    names = [("Iran", "IRN"), ("Korea", "KOR"), ("Korea Utara", "PRK"), ("إيران", "IRN"),
             ("Иран", "IRN"), ("북한", "PRK"), ("伊朗", "IRN")]
    phrases = [("visit*", "042"), ("korea", "x"), ("meet", "040"), ("زيارة", "042"),
               ("방문", "042"), ("访问", "042"), ("Иран", "y")]
    prefixes = {"arabic": frozenset({"و", "ب"})}
    suffixes = {"cyrillic": frozenset({"а", "ом"}), "latin": frozenset({"'s"})}
    alone = (PhraseMatcher(names, prefixes=prefixes, suffixes=suffixes),
             PhraseMatcher(phrases, hangul_word_start=False))
    multi = MultiMatcher([(names, prefixes, suffixes, True), (phrases, None, None, False)])
    rng = random.Random(3)
    words = ["Iran", "Iranian", "Korea", "Utara", "visited", "meet", "meets", "وإيران", "زيارة",
             "Ираном", "Ирана", "북한이", "방문했다", "伊朗", "访问", " ", ", ", "'s", "-"]
    for _ in range(3000):
        text = "".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        both = multi.candidates(text)
        for got, matcher in zip(both, alone, strict=True):
            assert longest_non_overlapping(got) == matcher.find(text), text
            key = lambda m: (m.start, m.end, str(m.payload))  # noqa: E731
            assert sorted(got, key=key) == sorted(matcher.candidates(text), key=key), text
