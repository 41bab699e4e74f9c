"""Secrets are values: every secret a request carries is masked wherever it
could show (errors, a server's echo, --json, HAR, curl, the preview), and
never follows a redirect to another origin."""

from __future__ import annotations

import json

import pytest

from tests.servers import FaultServer
from tts_tui.core.config import parse
from tts_tui.core.export import to_curl
from tts_tui.core.masking import MASK
from tts_tui.core.speech import prepare

SECRET = "sk-live-4f9c2b7e1d"


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def other():
    """A second server: another origin (another port) for redirects."""
    with FaultServer() as srv:
        yield srv


def service_block(url: str, *, type_: str = "http", extra: str = "") -> str:
    body = "body = '{\"text\": \"{{ text }}\"}'\n" if type_ == "http" else ""
    return f'[[services]]\nname = "s"\ntype = "{type_}"\nurl = "{url}"\ntimeout = 10\n{body}{extra}'


def run_say(cli, write_config, tmp_path, block: str, env: dict | None = None):
    path = write_config(block)
    har = tmp_path / "out.har"
    out = cli("--config", str(path), "say", "hello", "--no-play", "--json", "--har", str(har), env=env)
    return out, (har.read_text() if har.exists() else "")


@pytest.mark.parametrize(
    ("extra", "type_", "env"),
    [('api_key = "$TTS_TEST_KEY"\n', "openai", {"TTS_TEST_KEY": SECRET}),
     (f'api_key = "{SECRET}"\n', "openai", {}),
     (f'headers = {{ "X-Api-Key" = "{SECRET}" }}\n', "http", {}),
     (f'headers = {{ Authorization = "Bearer {SECRET}" }}\n', "http", {}),
     (f'headers = {{ token = "{SECRET}" }}\n', "http", {}),
     ('headers = { "xi-api-key" = "${TTS_TEST_KEY}" }\n', "http", {"TTS_TEST_KEY": SECRET}),
     (f'query = {{ key = "{SECRET}" }}\n', "http", {})],
    ids=["env-api-key", "literal-api-key", "x-api-key", "authorization", "token", "xi-api-key", "query-key"],
)
def test_a_401_that_echoes_the_key_shows_it_nowhere(cli, write_config, tmp_path, fault, extra, type_, env):
    url = fault.url("/echo/key") if type_ == "http" else fault.base + "/echo/key"
    out, har = run_say(cli, write_config, tmp_path, service_block(url, type_=type_, extra=extra), env)
    assert out.returncode == 1
    assert "401" in out.stderr and "Incorrect API key provided" in out.stderr
    for shown in (out.stdout, out.stderr, har):
        assert SECRET not in shown
    assert MASK in json.loads(out.stdout)["error"]


def test_userinfo_is_masked_in_curl_har_and_the_preview(cli, write_config, tmp_path, fault):
    url = fault.base.replace("http://", f"http://tts:{SECRET}@") + "/echo/key"
    out, har = run_say(cli, write_config, tmp_path, service_block(url))
    request = prepare(parse(service_block(url)).services[0], "hello")
    assert request.masked_url().startswith(f"http://tts:{MASK}@127.0.0.1")
    for shown in (out.stdout, out.stderr, har, to_curl(request), request.masked_url()):
        assert SECRET not in shown


def test_an_invalid_url_error_masks_the_query_key_and_userinfo(cli, write_config, tmp_path):
    url = f"http://me:{SECRET}@127.0.0.1:99999/speak?key={SECRET}x"
    out, _ = run_say(cli, write_config, tmp_path, service_block(url))
    assert out.returncode == 1 and "invalid URL" in out.stderr
    assert SECRET not in out.stderr and SECRET not in out.stdout
    assert f"key={MASK}" in out.stderr  # the mask stays readable, not percent-encoded


def test_a_key_with_a_carriage_return_is_not_printed_by_the_header_error(cli, write_config, tmp_path, fault):
    block = service_block(fault.base + "/echo/key", type_="openai", extra='api_key = "$TTS_TEST_KEY"\n')
    out, _ = run_say(cli, write_config, tmp_path, block, env={"TTS_TEST_KEY": SECRET + "\r"})
    assert out.returncode == 1
    assert SECRET not in out.stderr and SECRET not in out.stdout


def test_a_body_template_reads_only_the_env_variables_it_names(cli, write_config, tmp_path, fault, monkeypatch):
    monkeypatch.setenv("TTS_TEST_KEY", SECRET)
    monkeypatch.setenv("TTS_OTHER_SECRET", "another-secret-value")
    block = (f'[[services]]\nname = "s"\ntype = "http"\nurl = "{fault.url("/echo")}"\n'
             "body = '{\"api_key\": \"{{ env.TTS_TEST_KEY }}\", \"all\": \"{{ env.items() }}\"}'\n")
    request = prepare(parse(block).services[0], "hello")
    assert SECRET in request.body.decode()  # it is sent
    assert "another-secret-value" not in request.body.decode()  # the rest of the environment is not
    assert SECRET not in to_curl(request) and SECRET not in request.masked_body()
    out, har = run_say(cli, write_config, tmp_path, block, env={"TTS_TEST_KEY": SECRET})
    assert out.returncode == 0, out.stderr
    assert SECRET not in har and MASK in har


def test_a_redirect_to_another_origin_carries_no_secret_header(cli, write_config, tmp_path, fault, other):
    target = other.url("/wav")
    headers = (f'headers = {{ "X-Api-Key" = "{SECRET}", token = "{SECRET}", "xi-api-key" = "{SECRET}", '
               f'Authorization = "Bearer {SECRET}", "X-Trace" = "keep-me" }}\n')
    out, _ = run_say(cli, write_config, tmp_path, service_block(fault.url("/redirect", to=target), extra=headers))
    assert out.returncode == 0, out.stderr
    arrived = other.requests[-1]
    names = {k.lower() for k, _ in arrived.headers}
    assert not names & {"x-api-key", "token", "xi-api-key", "authorization"}
    assert ("x-trace", "keep-me") in {(k.lower(), v) for k, v in arrived.headers}
    assert all(SECRET not in v for _, v in arrived.headers)


def test_a_redirect_on_the_same_origin_keeps_the_key(cli, write_config, tmp_path, fault):
    headers = f'headers = {{ "X-Api-Key" = "{SECRET}" }}\n'
    out, _ = run_say(cli, write_config, tmp_path, service_block(fault.url("/redirect", to="/wav"), extra=headers))
    assert out.returncode == 0, out.stderr
    assert ("x-api-key", SECRET) in {(k.lower(), v) for k, v in fault.requests[-1].headers}
