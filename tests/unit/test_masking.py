"""What a user sees where a secret could show: the URL in errors, curl and
HAR, header values, and text that echoes a key in another spelling."""

from __future__ import annotations

from tts_tui.core.masking import MASK, credential, mask_headers, mask_text, mask_url, mask_value, url_secrets


def test_a_url_alone_masks_its_password_and_secret_query_values_but_nothing_else():
    # No secrets= at all: the invalid-URL error masks this way, before any
    # service's secrets are known.
    url = "http://alice:pw-123@127.0.0.1:9/v1/speech?voice=en&api_key=sk-live-9&Token=t0k;x=1#frag"
    assert mask_url(url) == f"http://alice:{MASK}@127.0.0.1:9/v1/speech?voice=en&api_key={MASK}&Token={MASK};x=1#frag"


def test_userinfo_without_a_password_is_masked_whole():
    assert mask_url("https://sk-only@127.0.0.1/v1") == f"https://{MASK}@127.0.0.1/v1"


def test_a_password_holding_a_colon_is_masked_whole_and_the_user_kept():
    assert mask_url("http://bob:pa:ss@127.0.0.1/") == f"http://bob:{MASK}@127.0.0.1/"


def test_an_empty_secret_query_value_and_an_at_sign_in_the_path_are_left_alone():
    url = "http://127.0.0.1/a?api_key=&v=1"
    assert mask_url(url) == url
    assert mask_url("http://127.0.0.1/users/@me?x=1") == "http://127.0.0.1/users/@me?x=1"


def test_mask_url_also_masks_given_secrets_anywhere_in_the_url():
    assert mask_url("http://127.0.0.1/voices/abc-secret-id/speech", ["abc-secret-id"]) == (
        f"http://127.0.0.1/voices/{MASK}/speech")


def test_the_secrets_a_url_carries_are_its_password_userinfo_and_secret_query_values():
    assert url_secrets("http://u:pw9@127.0.0.1/?voice=a&api_key=k-1&auth=&x=y&sig=no") == ["pw9", "u:pw9", "k-1"]
    assert url_secrets("http://justatoken@127.0.0.1/") == ["justatoken"]
    assert url_secrets("http://127.0.0.1/v1?voice=en") == []
    # what no URL parser accepts still gives its secrets up
    assert url_secrets("http://[::1/x?access_token=abc") == ["abc"]


def test_a_credential_is_the_header_value_without_its_scheme():
    assert credential("Bearer sk-1") == "sk-1"
    assert credential("  token   abc  ") == "abc"
    assert credential("sk-plain") == "sk-plain"
    assert credential("Custom abc") == "Custom abc"


def test_a_masked_header_keeps_its_scheme_whatever_its_case():
    assert mask_value("bearer sk-123 extra") == f"bearer {MASK}"
    assert mask_value("Basic dXNlcjpwYXNz") == f"Basic {MASK}"
    assert mask_value("sk-123 with spaces") == MASK


def test_headers_named_like_secrets_are_masked_and_others_only_where_they_hold_a_secret():
    headers = {"Authorization": "Bearer sk-1", "X-Echo": "key sk-secret-1 seen", "Accept": "audio/wav"}
    assert mask_headers(headers, ["sk-secret-1"]) == {
        "Authorization": f"Bearer {MASK}", "X-Echo": f"key {MASK} seen", "Accept": "audio/wav"}


def test_a_form_encoded_secret_and_a_basic_credential_are_masked_whole():
    assert mask_text("key=a%2Fb+c", ["a/b c"]) == f"key={MASK}"
    assert mask_text("X-Seen: dXNlcjpwYXNz", ["user:pass"]) == f"X-Seen: {MASK}"


def test_a_json_escaped_secret_is_masked_whole():
    assert mask_text('{"detail": "bad key ab\\"cd!"}', ['ab"cd']) == f'{{"detail": "bad key {MASK}!"}}'


def test_a_repr_escaped_secret_is_masked_whole():
    assert mask_text("invalid value 'sk-abc\\r'", ["sk-abc\r"]) == f"invalid value '{MASK}'"


def test_a_percent_encoded_secret_with_a_slash_is_masked_whole():
    assert mask_text("key=a%2Fb%20c", ["a/b c"]) == f"key={MASK}"


def test_secrets_of_three_characters_are_masked_and_shorter_ones_are_not():
    assert mask_text("pin abc, id ab", ["abc", "ab"]) == f"pin {MASK}, id ab"
    # padding does not make a short secret long enough
    assert mask_text("id ab here", ["  ab  "]) == "id ab here"


def test_every_secret_given_is_masked_not_only_the_last():
    assert mask_text("one sk-one two sk-two", ["sk-one", "sk-two"]) == f"one {MASK} two {MASK}"


def test_a_secret_inside_a_longer_one_never_leaves_half_of_the_longer_showing():
    # "zzz" sorts after "abzzzq" but is shorter: the longer one must go first
    assert mask_text("key abzzzq", ["zzz", "abzzzq"]) == f"key {MASK}"


def test_empty_text_and_no_secrets_are_left_as_they_are():
    assert mask_text("", ["abc"]) == ""
    assert mask_text("nothing secret", []) == "nothing secret"
    assert mask_text("nothing secret", ["", None or ""]) == "nothing secret"


def test_a_secret_in_python_repr_spelling_is_masked_whole():
    # an error that shows a key with a control character and non-ASCII in it
    # (read from a broken key file): repr writes \x01, not the JSON \u0001
    assert mask_text("invalid value 'sk-é\\x01'", ["sk-é\x01"]) == f"invalid value '{MASK}'"


def test_a_secret_in_ascii_json_spelling_is_masked_whole():
    # a server that echoes the key back in JSON written with ensure_ascii
    assert mask_text('{"detail": "bad key sk-\\u00e9\\u0001"}', ["sk-é\x01"]) == f'{{"detail": "bad key {MASK}"}}'


def test_a_secret_too_short_to_mask_is_not_masked_in_its_longer_spellings_either():
    # "é" percent-encoded is six characters, but the secret is one: ordinary text stays
    assert mask_text("http://127.0.0.1/?q=caf%C3%A9", ["é"]) == "http://127.0.0.1/?q=caf%C3%A9"
    assert mask_text("line a\\n end", ["a\n"]) == "line a\\n end"


def test_an_empty_password_leaves_the_user_as_the_secret():
    assert url_secrets("http://user:@127.0.0.1/") == ["user"]
