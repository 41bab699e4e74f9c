"""Voice lists as servers send them: `tts-tui voices` against real servers on 127.0.0.1.

Every test runs the real CLI in a subprocess with a real config file and
checks what a user sees: the voices printed, the one-line error, the exit code.
The servers are tests/servers.py's VoiceListServer (a list in any shape, or a
fault, at the URL an `openai` service guesses or at one a config names) and
SiteServer (a web app that answers its HTML page to every GET).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import SiteServer, VoiceListServer

BELLA_ADAM_EMMA = [
    {"id": "af_bella", "label": "Bella"}, {"id": "am_adam", "label": "Adam"}, {"id": "bf_emma", "label": "Emma"},
]
IDS_ONLY = [{"id": v, "label": v} for v in ("af_bella", "am_adam", "bf_emma")]
NO_LIST = 'has no voice list; set voice = "..." to what the server accepts'
KEY = "sk-voices-test-0123456789"


@pytest.fixture(scope="module")
def srv() -> Iterator[VoiceListServer]:
    with VoiceListServer() as server:
        yield server


def openai_service(base: str, name: str = "svc", *, api_key: str = "") -> str:
    """An `openai` service: its voice list is guessed at {base}/audio/voices."""
    key = f'api_key = "{api_key}"\n' if api_key else ""
    return f'[[services]]\nname = "{name}"\ntype = "openai"\nurl = "{base}"\ntimeout = 10\n{key}'


def http_service(speech_url: str, voices_url: str, name: str = "svc", **voices: str) -> str:
    """An `http` service whose voice list is at a URL the user configured."""
    lines = [
        "[[services]]", f'name = "{name}"', 'type = "http"', f'url = "{speech_url}"', "timeout = 10",
        "body = '{\"text\": \"{{ text }}\"}'", "[services.voices]", f'url = "{voices_url}"',
    ]
    lines += [f"{k} = '{v}'" for k, v in voices.items()]
    return "\n".join(lines) + "\n"


def voices_json(cli, config: Path, name: str = "svc", **kw) -> list[dict[str, str]]:
    out = cli("--config", str(config), "voices", "-s", name, "--json", **kw)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    doc = json.loads(out.stdout)
    assert doc["service"] == name
    return doc["voices"]


def one_line_error(out) -> str:
    """The error a user sees: exit 1, one `error: ...` line, nothing on stdout."""
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


# ---- a guessed list (openai: {url}/audio/voices) in every known shape ------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("strings", IDS_ONLY),
        ("objects", BELLA_ADAM_EMMA),
        ("voices", BELLA_ADAM_EMMA),
        ("voices-strings", IDS_ONLY),
        ("data", BELLA_ADAM_EMMA),
        ("items", BELLA_ADAM_EMMA),
        ("keyed", BELLA_ADAM_EMMA),
        ("keyed-names", BELLA_ADAM_EMMA),
        ("elevenlabs", BELLA_ADAM_EMMA),
        ("nested", BELLA_ADAM_EMMA),
        ("alltalk", IDS_ONLY),
        ("files", [{"id": f"{v['id']}.wav", "label": v["label"]} for v in BELLA_ADAM_EMMA]),
    ],
)
def test_a_guessed_list_is_read_in_every_known_shape(cli, write_config, srv, shape, expected):
    config = write_config(openai_service(f"{srv.base}/{shape}/v1"))
    assert voices_json(cli, config) == expected


def test_voices_print_one_a_line_with_their_label(cli, write_config, srv):
    config = write_config(openai_service(f"{srv.base}/items/v1") + openai_service(f"{srv.base}/strings/v1", "plain"))
    labelled = cli("--config", str(config), "voices", "-s", "svc")
    assert labelled.returncode == 0, labelled.stderr
    assert labelled.stdout == "af_bella\tBella\nam_adam\tAdam\nbf_emma\tEmma\n"
    bare = cli("--config", str(config), "voices", "-s", "plain")
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout == "af_bella\nam_adam\nbf_emma\n"


# ---- a guessed URL that is not a voice list means "no voice list" -------------------------


@pytest.mark.parametrize("shape", ["404", "405", "html", "text", "empty", "wav", "json-error"])
def test_a_guessed_url_that_answers_no_list_is_not_an_error(cli, write_config, srv, shape):
    config = write_config(openai_service(f"{srv.base}/{shape}/v1"))
    out = cli("--config", str(config), "voices", "-s", "svc")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert out.stderr.strip() == f"svc {NO_LIST}"
    assert voices_json(cli, config) == []


def test_a_server_that_answers_its_web_page_to_any_get_has_no_voice_list(cli, write_config):
    with SiteServer() as site:
        config = write_config(openai_service(f"{site.base}/v1"))
        out = cli("--config", str(config), "voices", "-s", "svc")
        assert [r.path for r in site.requests] == ["/v1/audio/voices"]
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == f"svc {NO_LIST}"


def test_a_guessed_url_that_fails_otherwise_is_an_error_without_the_key(cli, write_config, srv):
    """A wrong key is worth saying, even on a guessed URL; the key the server
    quotes back is masked."""
    config = write_config(openai_service(f"{srv.base}/echo-key/v1", api_key="$VOICES_TEST_KEY"))
    out = cli("--config", str(config), "voices", "-s", "svc", env={"VOICES_TEST_KEY": KEY})
    line = one_line_error(out)
    assert line.startswith("error: HTTP 401 Unauthorized: Incorrect API key provided: ••••••")
    assert f"{srv.base}/echo-key/v1/audio/voices" in line
    assert KEY not in out.stderr
    broken = write_config(openai_service(f"{srv.base}/500/v1"), "broken.toml")
    assert one_line_error(cli("--config", str(broken), "voices")).startswith(
        "error: HTTP 500 Internal Server Error: voice index is corrupt"
    )


def test_a_voice_list_nested_100000_deep_is_a_one_line_error(cli, write_config, srv):
    guessed = write_config(openai_service(f"{srv.base}/deep/v1"))
    line = one_line_error(cli("--config", str(guessed), "voices"))
    assert line.startswith(f"error: the voices URL {srv.base}/deep/v1/audio/voices answered JSON nested too deeply")
    configured = write_config(http_service(f"{srv.base}/echo", f"{srv.base}/voice-list?shape=deep"), "c.toml")
    line = one_line_error(cli("--config", str(configured), "voices"))
    assert "nested too deeply" in line and "Traceback" not in line


# ---- a URL the user configured must answer a voice list -------------------------------------


@pytest.mark.parametrize(
    ("shape", "what", "seen"),
    [
        ("html", "an HTML page", "HTTP 200 OK: My TTS Studio"),
        ("text", "an answer that is not JSON", "HTTP 200 OK: OK"),
        ("wav", "an answer that is not JSON", "HTTP 200 OK: 4.35 KB of audio/wav"),
        ("empty", "an empty body", "HTTP 200 OK"),
    ],
)
def test_a_configured_url_that_answers_no_json_is_an_error_naming_it(cli, write_config, srv, shape, what, seen):
    # the key in the query is a literal secret: the message names the URL without it
    url = f"{srv.base}/voice-list?shape={shape}&api_key=sk-literal-9876"
    config = write_config(http_service(f"{srv.base}/echo", url))
    out = cli("--config", str(config), "voices", "-s", "svc")
    assert out.returncode == 1 and out.stdout == ""
    warning, line = out.stderr.splitlines()  # the literal key is warned about, the error is one line
    assert warning.startswith("warning: service 'svc': voices.url holds a literal secret")
    assert line.startswith(f"error: the voices URL {srv.base}/voice-list?shape={shape}&api_key=")
    assert f" answered {what}, not a JSON voice list ({seen}); " in line
    assert "sk-literal-9876" not in out.stderr


@pytest.mark.parametrize("shape", ["404", "405"])
def test_a_configured_url_that_is_missing_is_an_error(cli, write_config, srv, shape):
    config = write_config(http_service(f"{srv.base}/echo", f"{srv.base}/voice-list?shape={shape}"))
    line = one_line_error(cli("--config", str(config), "voices"))
    assert line.startswith(f"error: HTTP {shape} ")
    assert f"check the voices URL {srv.base}/voice-list?shape={shape}" in line


@pytest.mark.parametrize("shape", ["voices", "data", "items", "nested", "objects", "keyed"])
def test_a_configured_url_reads_known_shapes_without_a_path(cli, write_config, srv, shape):
    config = write_config(http_service(f"{srv.base}/echo", f"{srv.base}/voice-list?shape={shape}"))
    assert voices_json(cli, config) == BELLA_ADAM_EMMA


def test_a_configured_object_keyed_by_id_gives_each_item_its_key(cli, write_config, srv):
    config = write_config(http_service(
        f"{srv.base}/echo", f"{srv.base}/voice-list?shape=keyed",
        value="{{ key }}", label="{{ name }} ({{ language }})",
    ))
    assert voices_json(cli, config) == [
        {"id": "af_bella", "label": "Bella (en)"}, {"id": "am_adam", "label": "Adam (en)"},
        {"id": "bf_emma", "label": "Emma (en)"},
    ]


def test_configured_templates_pick_the_fields(cli, write_config, srv):
    config = write_config(http_service(
        f"{srv.base}/echo", f"{srv.base}/voice-list?shape=files",
        value="{{ filename }}", label="{{ display_name }} voice",
    ))
    assert voices_json(cli, config) == [
        {"id": "af_bella.wav", "label": "Bella voice"}, {"id": "am_adam.wav", "label": "Adam voice"},
        {"id": "bf_emma.wav", "label": "Emma voice"},
    ]


def test_a_configured_url_that_answers_a_json_error_with_200_is_an_error(cli, write_config, srv):
    config = write_config(http_service(f"{srv.base}/echo", f"{srv.base}/voice-list?shape=json-error"))
    line = one_line_error(cli("--config", str(config), "voices"))
    assert line.startswith("error: the answer has no voice list at the top (the answer is an object with keys detail)")


def test_a_configured_path_with_no_list_says_what_is_there(cli, write_config, srv):
    config = write_config(http_service(f"{srv.base}/echo", f"{srv.base}/voice-list?shape=items", path="results"))
    line = one_line_error(cli("--config", str(config), "voices"))
    assert line == (
        "error: the answer has no voice list at voices.path 'results' (the answer is an object with keys"
        f" items, total, page) (from {srv.base}/voice-list?shape=items);"
        " set voices.path to where the list is in the JSON answer"
    )


# ---- the workbench (the TUI's voice picker) reads the same lists -----------------------------


async def test_the_workbench_reads_an_items_list(write_config, srv):
    from tts_tui.core.workbench import Workbench

    wb = Workbench(write_config(openai_service(f"{srv.base}/items/v1")))
    try:
        voices = await wb.fetch_voices("svc")
    finally:
        await wb.aclose()
    assert [(v.id, v.label) for v in voices] == [(v["id"], v["label"]) for v in BELLA_ADAM_EMMA]
    assert wb.voices["svc"] == voices
