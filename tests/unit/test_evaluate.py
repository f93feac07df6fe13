"""geomon eval's scoring on labeled rows written for this test (both file shapes)."""

import json

from streams.evaluate import Predicted, baseline, evaluate_file, read_units, score


def write(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


SENTENCES = [
    {"id": "s:1:0", "lang": "en", "text": "North Korea's envoy visited Iran.", "no_event": False,
     "source_country": "PRK", "target_country": "IRN", "root_code": "04",
     "root_code_approx": ["04"]},
    {"id": "s:1:1", "lang": "en", "text": "North Korea's envoy visited Iran.", "no_event": False,
     "source_country": "PRK", "target_country": "IRN", "root_code": "05",
     "root_code_approx": ["05"]},
    {"id": "s:2:0", "lang": "en", "text": "The weather was fine.", "no_event": True},
]


def test_sentence_rows_group_by_sentence(tmp_path):
    units = read_units(write(tmp_path, "s.jsonl", SENTENCES))
    assert [u.key for u in units] == ["s:1", "s:2"]
    assert len(units[0].events) == 2
    assert units[1].negative


def test_scores_count_pairs_roots_and_false_events(tmp_path):
    units = read_units(write(tmp_path, "s.jsonl", SENTENCES))
    preds = [[Predicted("IRN-PRK", "PRK", "IRN", "04", 0.9)],
             [Predicted("CHN-RUS", "CHN", "RUS", "04", 0.5)]]
    s = score(units, preds)
    assert s["pair_f1"] == 1.0
    assert s["event_f1"] == 0.6667  # (IRN-PRK, 04) right, (IRN-PRK, 05) missed
    assert s["directed_accuracy"] == 1.0
    assert s["root_accuracy"] == 0.5
    assert s["false_event_rate"] == 1.0
    assert s["detection_f1"] == 0.6667


def test_baseline_is_the_majority_guess(tmp_path):
    units = read_units(write(tmp_path, "s.jsonl", SENTENCES))
    b = baseline(units)
    assert b["pair_f1"] == 1.0  # the only gold pair, guessed everywhere
    assert b["false_event_rate"] == 1.0


def test_article_shape_and_the_real_coder(tmp_path, coder):
    rows = [
        {"id": "w1", "lang": "en", "text": "North Korea's delegation visited Iran on Monday.",
         "events": [{"source": "PRK", "target": "IRN", "root": "04", "cameo": "042"}],
         "pairs": ["IRN-PRK"], "negative": False},
        {"id": "w2", "lang": "en", "text": "Iran beat South Korea 2-0 in a football match.",
         "events": [], "pairs": [], "negative": True},
    ]
    result = evaluate_file(write(tmp_path, "w.jsonl", rows), coder.code)
    assert result["rows"] == 2
    assert result["pair_f1"] == 1.0
    assert result["root_accuracy"] == 1.0
    assert result["false_event_rate"] == 0.0
    assert set(result["by_lang"]) == {"en"}
