"""The sentence splitter against a plain, mark-by-mark statement of its rules."""

import random
import re

from streams.coding.text import split_sentences

_MARKS = re.compile(r"[.!?。！？؟।\n]")
_CLOSE_AND_SPACE = re.compile(r"([\"'”’»)\]]*)\s+")
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]\.|\b(?:Mr|Mrs|Ms|Dr|St|Gen|Lt|Col|Sen|Rep|Gov|Prof|No|Jr|Sr)\.)$"
)


def _reference(text: str) -> list[str]:
    """Each end mark looked at in turn: a line break ends a piece (the breaks dropped); . ! ?
    and their CJK/Arabic/Devanagari forms end one when closing quotes and a space follow
    (the quotes kept, the space dropped); 。！？ also when any text follows. Pieces ending in "X." or "Mr." join the next."""
    pieces, last, skip = [], 0, 0
    for m in _MARKS.finditer(text):
        i = m.start()
        if i < skip:
            continue
        if text[i] == "\n":
            j = i
            while j < len(text) and text[j] == "\n":
                j += 1
            pieces.append(text[last:i])
            last = skip = j
            continue
        after = _CLOSE_AND_SPACE.match(text, i + 1)
        if after is not None:
            pieces.append(text[last : after.end(1)])
            last = skip = after.end()
        elif text[i] in "。！？" and i + 1 < len(text):
            pieces.append(text[last : i + 1])
            last = skip = i + 1
    pieces.append(text[last:])
    out: list[str] = []
    for piece in (p.strip() for p in pieces if p.strip()):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def test_split_sentences_follows_its_rules_on_random_text():
    rng = random.Random(1)
    alphabet = [*"ab U.S Mr Dr. No x_1 é 。！？.!?؟।\n\n \t\"'”’»)]", "Mr.", "U.S.", " X. ", "BUS."]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        assert split_sentences(text) == _reference(text), ascii(text)


def test_split_sentences_keeps_abbreviations_and_cjk_ends():
    text = "Mr. Kim met U.S. envoys. 北朝鲜代表团抵达。随后会谈！Then: \"done.\" Next"
    assert split_sentences(text) == [
        "Mr. Kim met U.S. envoys.",
        "北朝鲜代表团抵达。",
        "随后会谈！",
        'Then: "done."',
        "Next",
    ]


def test_fold_lines_slices_fold_each_line_as_it_folds_alone():
    """The coder folds an article once and slices each sentence's fold out of it."""
    from streams.coding.text import fold, fold_lines

    rng = random.Random(2)
    alphabet = [*"ΣσςAΟΔΟΣ aΣ'.\n\n", "İ", "ẞ", "Ǆ", "ﬁ"]
    sliced = 0
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        folded, sliceable = fold_lines(text)
        assert folded == fold(text)
        if sliceable:
            sliced += 1
            start = 0
            for line in text.split("\n"):
                assert folded[start : start + len(line)] == fold(line), ascii(text)
                start += len(line) + 1
    assert sliced > 1000  # the common case was tested, not only the fallback
