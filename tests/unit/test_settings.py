import pytest
from pydantic import ValidationError

from streams.settings import Settings


def test_defaults(settings):
    assert settings.topic("articles") == "geomon.articles"
    assert settings.article_partitions == 8
    assert settings.broker_url == "kafka://127.0.0.1:9092"


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("GEOMON_BROKER", "kafka://a:1,kafka://b:2")
    monkeypatch.setenv("GEOMON_TOPIC_PREFIX", "test")
    monkeypatch.setenv("GEOMON_WEB_PORT", "7000")
    s = Settings()
    assert s.bootstrap_servers == ["a:1", "b:2"]
    assert s.broker_url == "kafka://a:1;kafka://b:2"
    assert s.topic("alerts") == "test.alerts"
    assert s.web_port == 7000


def test_bad_values_are_rejected(monkeypatch):
    monkeypatch.setenv("GEOMON_BROKER", "nohostport")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("GEOMON_BROKER", "kafka://h:1")
    monkeypatch.setenv("GEOMON_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError):
        Settings()


def test_sasl_passes_through_and_secret_is_hidden(monkeypatch):
    monkeypatch.setenv("GEOMON_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("GEOMON_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("GEOMON_SASL_USERNAME", "geo")
    monkeypatch.setenv("GEOMON_SASL_PASSWORD", "s3cret-value")
    s = Settings()
    cfg = s.kafka_python_config()
    assert cfg["sasl_mechanism"] == "SCRAM-SHA-512"
    assert cfg["sasl_plain_password"] == "s3cret-value"
    assert "s3cret-value" not in repr(s)
    creds = s.faust_credentials()
    assert creds.username == "geo"
    assert str(creds.mechanism.value) == "SCRAM-SHA-512"


def test_producer_linger_reaches_the_faust_producer(monkeypatch):
    from streams.app import make_faust_app

    monkeypatch.setenv("GEOMON_PRODUCER_LINGER_MS", "20")
    assert make_faust_app(Settings()).conf.producer_linger == pytest.approx(0.02)
    monkeypatch.setenv("GEOMON_PRODUCER_LINGER_MS", "-1")
    with pytest.raises(ValidationError):
        Settings()
