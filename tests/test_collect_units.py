"""Pure parts of the collector: retry classification, backoff, configuration."""

import json
import random
from pathlib import Path
from types import SimpleNamespace

import ovh.exceptions
import pytest
import requests
import requests.utils

from audit.collect.api import ClientFactory, Credentials
from audit.collect.collector import valid_unicode
from audit.collect.retry import RetryPolicy, Verdict, classify
from audit.config.settings import load_config
from audit.support.errors import InputError


def response(status: int, headers: dict[str, str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, headers=headers or {})


@pytest.mark.parametrize(
    ("exc", "verdict", "retry_after"),
    [
        (
            ovh.exceptions.APIError("slow down", response=response(429, {"Retry-After": "2"})),
            Verdict.RETRY,
            2.0,
        ),
        (ovh.exceptions.APIError("busy", response=response(429)), Verdict.RETRY, None),
        (
            ovh.exceptions.APIError("x", response=response(429, {"Retry-After": "soon"})),
            Verdict.RETRY,
            None,
        ),
        (ovh.exceptions.APIError("oops", response=response(503)), Verdict.RETRY, None),
        (ovh.exceptions.InvalidResponse("Failed to decode API response"), Verdict.RETRY, None),
        (ovh.exceptions.HTTPError("Low HTTP request failed error"), Verdict.RETRY, None),
        (
            ovh.exceptions.ResourceNotFoundError("gone", response=response(404)),
            Verdict.GIVE_UP,
            None,
        ),
        (ovh.exceptions.InvalidCredential("bad"), Verdict.FATAL, None),
        (ovh.exceptions.InvalidKey("bad"), Verdict.FATAL, None),
        (ovh.exceptions.NotGrantedCall("no"), Verdict.FATAL, None),
    ],
)
def test_classify(exc: Exception, verdict: Verdict, retry_after: float | None) -> None:
    classified = classify(exc)
    assert classified.verdict is verdict
    assert classified.retry_after == retry_after


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(1)
    delays = [max(policy.delay(attempt, None, rng) for _ in range(200)) for attempt in (1, 3, 8)]
    assert delays[0] <= 1.0 < delays[1] <= 4.0 < delays[2] <= 8.0
    assert policy.delay(1, 7.5, rng) == 7.5


def test_config_file_is_validated_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.toml"
    path.write_text('[audit]\nworkers = "many"\n')
    with pytest.raises(InputError, match=r"audit\.toml: audit\.workers: expected int"):
        load_config(path)
    path.write_text("[audit]\nwrokers = 3\n")
    with pytest.raises(InputError, match="unknown key 'wrokers'"):
        load_config(path)


def test_config_file_resolves_paths_and_editions(tmp_path: Path) -> None:
    path = tmp_path / "audit.toml"
    path.write_text(
        '[audit]\nout = "out"\nmax_rps = 5\n'
        '[remediation]\ndefault_edition = "Standard"\neditions = { "2022" = "Datacenter" }\n'
        'services = { "pcc-1" = { "2022" = "Standard Core" }, '
        '"pcc-3" = { default = "Datacenter Core", "2016" = "Standard" } }\n'
    )
    config = load_config(path)
    assert config.out == tmp_path / "out"
    assert config.max_rps == 5.0
    assert config.remediation.edition_for("pcc-2", "2022") == "Datacenter"
    assert config.remediation.edition_for("pcc-1", "2022") == "Standard Core"
    assert config.remediation.edition_for("pcc-1", "2019") == "Standard"
    assert config.remediation.edition_for("pcc-3", "2022") == "Datacenter Core"
    assert config.remediation.edition_for("pcc-3", "2016") == "Standard"


def test_lone_surrogates_from_the_api_become_replacement_characters() -> None:
    raw = json.loads('{"name": "vm-\\ud800-x", "tags": ["ok", "\\udfff"], "id": 3}')
    clean = valid_unicode(raw)
    assert clean == {"name": "vm-\ufffd-x", "tags": ["ok", "\ufffd"], "id": 3}
    json.dumps(clean, ensure_ascii=False).encode("utf-8")  # now writable as UTF-8


@pytest.mark.parametrize(
    "no_proxy", [None, "eu.api.ovh.com"], ids=["through-the-proxy", "proxy-bypassed"]
)
def test_a_client_reads_proxies_ca_bundle_and_netrc_once_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_proxy: str | None
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine eu.api.ovh.com login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bundle.pem"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    url = "https://eu.api.ovh.com/1.0/dedicatedCloud"
    expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
    expected_auth = requests.utils.get_netrc_auth(url)

    client = ClientFactory("ovh-eu", Credentials("app", "secret", "consumer")).new_client()
    session = client._session
    monkeypatch.setenv("HTTPS_PROXY", "http://read-too-late.example:3128")  # not read again
    assert session.trust_env is False
    assert session.merge_environment_settings(url, {}, None, None, None) == expected
    assert session.auth == expected_auth == ("someone", "elsewhere")
    assert (session.proxies.get("https") is None) == (no_proxy is not None)
