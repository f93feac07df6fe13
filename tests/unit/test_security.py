"""Security of the settings object and the source tree (issue 7, item 3).

SASL (PLAIN, SCRAM-SHA-256/512) and TLS (SSL, SASL_SSL with CA, client cert and key made here
with the openssl CLI) pass through to kafka-python and to Faust/aiokafka identically; secrets
come from the environment or from files and never show in repr, str, dumps or errors; no YAML
or pickle loading of untrusted data anywhere outside the tests.
"""

from __future__ import annotations

import re
import ssl
import subprocess
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaConsumer, KafkaProducer
from pydantic import ValidationError

from streams.app import make_faust_app
from streams.settings import REPO_ROOT, Settings

SECRET = "pw-7f3e1c-do-not-log"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("GEOMON_"):
            monkeypatch.delenv(key)
    return monkeypatch


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA, a client certificate signed by it, and the client's key."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=geomon-test-ca", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
            "client.csr", "-subj", "/CN=geomon-test-client", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.pem", "-days", "2", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
            "other.pem", "-days", "2", "-subj", "/CN=other", cwd=d)
    return {"ca": d / "ca.pem", "cert": d / "client.pem", "key": d / "client.key",
            "other_key": d / "other.key"}


def env(mp: pytest.MonkeyPatch, **values: str | Path) -> Settings:
    for k, v in values.items():
        mp.setenv(f"GEOMON_{k.upper()}", str(v))
    return Settings()


def assert_same_for_both_clients(s: Settings) -> tuple[dict, dict]:
    """kafka-python's config and the aiokafka config Faust derives must say the same."""
    kp = s.kafka_python_config()
    app = make_faust_app(s)
    assert type(app.conf.broker_credentials) is type(s.faust_credentials())
    ak = dict(credentials_to_aiokafka_auth(app.conf.broker_credentials))
    assert ak["security_protocol"] == kp["security_protocol"] == s.security_protocol
    for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert ak.get(key) == kp.get(key), key
    assert (ak.get("ssl_context") is None) == (kp.get("ssl_context") is None)
    # every key is one kafka-python knows (a typo would be a TypeError at connect time)
    assert set(kp) <= set(KafkaConsumer.DEFAULT_CONFIG)
    assert set(kp) <= set(KafkaProducer.DEFAULT_CONFIG)
    return kp, ak


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_passes_through(clean_env, mechanism: str) -> None:
    s = env(clean_env, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
            sasl_username="geo", sasl_password=SECRET, broker="kafka://k1:9093,kafka://k2:9093")
    kp, ak = assert_same_for_both_clients(s)
    assert kp["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert kp["sasl_mechanism"] == ak["sasl_mechanism"] == mechanism
    assert kp["sasl_plain_username"] == "geo"
    assert kp["sasl_plain_password"] == SECRET
    assert "ssl_context" not in kp and ak["ssl_context"] is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_with_ca_passes_through(clean_env, pki, mechanism: str) -> None:
    s = env(clean_env, security_protocol="SASL_SSL", sasl_mechanism=mechanism,
            sasl_username="geo", sasl_password=SECRET, ssl_cafile=pki["ca"])
    kp, ak = assert_same_for_both_clients(s)
    assert ak["security_protocol"] == "SASL_SSL"
    assert kp["sasl_mechanism"] == mechanism
    for ctx in (kp["ssl_context"], ak["ssl_context"]):
        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        subjects = [dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()]
        assert {"commonName": "geomon-test-ca"} in subjects


def test_mutual_tls_loads_ca_cert_and_key(clean_env, pki) -> None:
    s = env(clean_env, security_protocol="SSL", ssl_cafile=pki["ca"],
            ssl_certfile=pki["cert"], ssl_keyfile=pki["key"])
    kp, ak = assert_same_for_both_clients(s)
    assert kp["security_protocol"] == ak["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in kp and "sasl_mechanism" not in ak
    ctx = kp["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c for c in ctx.get_ca_certs() if ("commonName", "geomon-test-ca") in c["subject"][0]]


def test_tls_with_a_key_that_does_not_match_the_cert_fails_loudly(clean_env, pki) -> None:
    s = env(clean_env, security_protocol="SSL", ssl_cafile=pki["ca"],
            ssl_certfile=pki["cert"], ssl_keyfile=pki["other_key"])
    with pytest.raises(ssl.SSLError):
        s.kafka_python_config()
    s2 = env(clean_env, ssl_cafile=pki["ca"].with_name("missing.pem"), ssl_keyfile=pki["key"])
    with pytest.raises(OSError):
        s2.ssl_context()


def test_plaintext_has_no_credentials(clean_env) -> None:
    s = env(clean_env)
    assert s.faust_credentials() is None
    assert s.kafka_python_config() == {"bootstrap_servers": ["127.0.0.1:9092"],
                                       "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(("protocol", "mechanism"), [
    ("SASL_PLAINTEXT", None), ("SASL_SSL", None), ("PLAINTEXT", "PLAIN"), ("SSL", "SCRAM-SHA-256"),
])
def test_inconsistent_sasl_settings_are_rejected(clean_env, protocol, mechanism) -> None:
    """Otherwise kafka-python and Faust would connect with different protocols."""
    values = {"security_protocol": protocol, "sasl_password": SECRET}
    if mechanism:
        values["sasl_mechanism"] = mechanism
    with pytest.raises(ValidationError) as info:
        env(clean_env, **values)
    assert "GEOMON_SASL_MECHANISM" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_secrets_from_files(clean_env, tmp_path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "hook").write_text("hook-" + SECRET, encoding="utf-8")
    s = env(clean_env, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
            sasl_username="geo", sasl_password_file=tmp_path / "pw",
            webhook_secret_file=tmp_path / "hook")
    assert s.sasl_password is not None and s.sasl_password.get_secret_value() == SECRET
    assert s.webhook_secret is not None
    assert s.webhook_secret.get_secret_value() == "hook-" + SECRET
    assert s.kafka_python_config()["sasl_plain_password"] == SECRET
    assert s.faust_credentials().password == SECRET
    for shown in (repr(s), str(s), s.model_dump_json(), repr(s.faust_credentials())):
        assert SECRET not in shown


def test_secret_file_errors_name_the_file_not_the_secret(clean_env, tmp_path) -> None:
    with pytest.raises(ValidationError) as missing:
        env(clean_env, sasl_password_file=tmp_path / "nope")
    assert "GEOMON_SASL_PASSWORD_FILE" in str(missing.value) and "nope" in str(missing.value)
    (tmp_path / "pw").write_text(SECRET, encoding="utf-8")
    clean_env.delenv("GEOMON_SASL_PASSWORD_FILE")
    with pytest.raises(ValidationError) as both:
        env(clean_env, webhook_secret=SECRET, webhook_secret_file=tmp_path / "pw")
    assert "not both" in str(both.value)
    assert SECRET not in str(both.value) and SECRET not in repr(both.value)


def test_secrets_never_in_repr_or_dumps(clean_env) -> None:
    s = env(clean_env, security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="geo",
            sasl_password=SECRET, webhook_secret="hook-" + SECRET)
    for shown in (repr(s), str(s), s.model_dump_json(), repr(s.model_dump()),
                  repr(s.faust_credentials()), repr(make_faust_app(s).conf.broker_credentials)):
        assert SECRET not in shown


# ------------------------------------------------------------------ no unsafe deserialisation

UNSAFE = re.compile(
    r"yaml\.(load|load_all)\s*\((?![^)]*Loader\s*=\s*(yaml\.C?SafeLoader|_SAFE_LOADER)\b)"
    r"|yaml\.(unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\("
    r"|yaml\.(Loader|FullLoader|UnsafeLoader)\b"
    r"|\b(c?pickle|dill|shelve|marshal|jsonpickle)\b"
    r"|Loader\s*=\s*(yaml\.)?(Loader|FullLoader|UnsafeLoader)\b"
)


def source_files() -> list[Path]:
    files = [p for d in ("streams", "alerts", "bench") for p in (REPO_ROOT / d).rglob("*.py")]
    return files + sorted((REPO_ROOT / "bench").glob("*.sh"))


def test_no_unsafe_yaml_or_pickle_outside_tests() -> None:
    files = source_files()
    assert len(files) > 10
    hits = [f"{p.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
            for p in files
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if UNSAFE.search(line.split("#", 1)[0])]
    assert not hits, "unsafe deserialisation:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_should() -> None:
    for bad in ("yaml.load(fh)", "yaml.load(fh, Loader=yaml.FullLoader)", "yaml.unsafe_load(x)",
                "import pickle", "pickle.loads(b)", "yaml.full_load(x)", "Loader=yaml.Loader"):
        assert UNSAFE.search(bad), bad
    for good in ("yaml.safe_load(fh)", "yaml.safe_dump(x)", "json.loads(b)",
                 "yaml.load(fh, Loader=_SAFE_LOADER)", "yaml.load(fh, Loader=yaml.CSafeLoader)"):
        assert not UNSAFE.search(good), good


def test_the_config_loader_is_a_safe_one() -> None:
    import yaml

    from streams.coding.lexicon import _SAFE_LOADER

    assert issubclass(_SAFE_LOADER, yaml.constructor.SafeConstructor)
    assert not issubclass(_SAFE_LOADER, yaml.constructor.FullConstructor)


def test_faust_serializers_are_not_pickle(settings) -> None:
    """Topics carry raw bytes and tables JSON: nothing is unpickled from the broker."""
    from alerts.watchlist import parse_watchlist
    from streams.app import create_pipeline

    pipe = create_pipeline(settings, coder=lambda: None,  # type: ignore[arg-type,return-value]
                           watchlist=parse_watchlist({"pairs": [{"pair": "IRN-PRK"}]}))
    conf = pipe.app.conf
    assert conf.key_serializer in ("raw", "json") and conf.value_serializer in ("raw", "json")
    for topic in [*pipe.topics.values(), *pipe.pair_topics.values()]:
        assert topic.key_serializer == "raw" and topic.value_serializer == "raw"
    for table in pipe.tables.values():
        for ser in (table.key_serializer, table.value_serializer):
            assert ser in (None, "raw", "json"), ser


# ------------------------------------------------------------------ secrets in library logs


def admin_client_debug_log(s: Settings, caplog: pytest.LogCaptureFixture) -> str:
    """What kafka-python logs at DEBUG when topics.ensure_topics builds its admin client."""
    import logging

    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    from streams.broker import free_port

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="kafka")
    cfg = {**s.kafka_python_config(), "bootstrap_servers": [f"127.0.0.1:{free_port()}"],
           "api_version_auto_timeout_ms": 300, "request_timeout_ms": 300}
    with pytest.raises(KafkaError):  # nothing listens there: it fails after logging its config
        KafkaAdminClient(client_id="geomon-admin", **cfg)
    return caplog.text


def test_library_debug_logs_of_the_sasl_password_are_masked(clean_env, caplog) -> None:
    import logging

    from streams import logsafe

    quoted = SECRET + "'\\\"é"  # repr() escapes these: the masked form must cover repr too
    s = env(clean_env, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
            sasl_username="geo", sasl_password=quoted, webhook_secret="hook-" + SECRET)
    factory, installed = logging.getLogRecordFactory(), list(logsafe._installed)
    try:
        # the defect this guards against: kafka-python puts the password in its DEBUG log
        assert SECRET in admin_client_debug_log(s, caplog)
        logsafe.install_redaction(logsafe.secret_values(s))
        text = admin_client_debug_log(s, caplog)
        assert "Starting KafkaAdminClient" in text and logsafe.MASK in text
        assert SECRET not in text
        logging.getLogger("geomon.test").warning("hook key %s", "hook-" + SECRET)
        assert "hook-" + SECRET not in caplog.text
    finally:
        logging.setLogRecordFactory(factory)
        logsafe._installed[:] = installed
