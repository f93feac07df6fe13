import json
from datetime import UTC, datetime

from streams.records import Alert, Evidence, RuleHit, Span, json_schemas
from streams.schemas import render, schema_path, validator
from tests.conftest import CONFIG_DIR


def test_published_schemas_match_the_records():
    for name, schema in json_schemas().items():
        on_disk = schema_path(CONFIG_DIR, name).read_text(encoding="utf-8")
        assert on_disk == render(name, schema), f"run `make schemas`: {name} changed"


def test_article_schema_accepts_text_or_body_and_rejects_neither():
    v = validator(CONFIG_DIR, "article")
    assert v.is_valid({"text": "x"})
    assert v.is_valid({"body": "x"})
    assert not v.is_valid({"title": "x"})


def test_an_alert_validates_against_its_schema():
    span = Span(text="Iran", start=0, end=4, code="IRN")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alert = Alert(alert_id="a", pair="IRN-PRK", rule=RuleHit(name="r", reason="why"),
                  severity="high", events=["e"], cameo="042", root="04", first_seen=now,
                  last_seen=now, sources=["s"], summary="x",
                  evidence=[Evidence(sentence="Iran", trigger=span, source=span, target=span)],
                  created_at=now)
    doc = json.loads(alert.model_dump_json())
    errors = list(validator(CONFIG_DIR, "alert").iter_errors(doc))
    assert not errors
    doc["pair"] = "iran/prk"
    assert not validator(CONFIG_DIR, "alert").is_valid(doc)
