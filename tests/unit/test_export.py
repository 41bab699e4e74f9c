"""Copy as curl: the command repeats the request, with secrets masked."""

import json
import shlex

from tts_tui.core.exchange import PreparedRequest
from tts_tui.core.export import to_curl
from tts_tui.core.masking import MASK


def test_curl_repeats_method_url_headers_and_exact_body_with_secrets_masked():
    body = json.dumps({"input": "It's \"quoted\"\nand 😀", "key": "sk-secret-123"}).encode()
    request = PreparedRequest(
        "POST",
        "http://127.0.0.1:8880/v1/audio/speech?api_key=sk-secret-123",
        {"Content-Type": "application/json", "Authorization": "Bearer sk-secret-123"},
        body,
        secrets=["sk-secret-123"],
    )
    command = to_curl(request, output="a.wav")
    assert "sk-secret-123" not in command
    argv = shlex.split(command)
    assert argv[:4] == ["curl", "-sS", "-X", "POST"]
    assert argv[argv.index("-H") + 1] == "Content-Type: application/json"
    assert f"Authorization: Bearer {MASK}" in argv
    sent = json.loads(argv[argv.index("--data-raw") + 1])
    assert sent["input"] == "It's \"quoted\"\nand 😀"
    assert sent["key"] == MASK
    assert argv[-2:] == ["-o", "a.wav"]


def test_a_get_request_has_no_method_flag_or_body():
    argv = shlex.split(to_curl(PreparedRequest("GET", "http://127.0.0.1:5500/api/tts?text=hi%20there")))
    assert "-X" not in argv and "--data-raw" not in argv
    assert "http://127.0.0.1:5500/api/tts?text=hi%20there" in argv
