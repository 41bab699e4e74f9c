"""The sentence splitter and chunker: where a long text may be cut, and where never."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_tui.core.split import chunks, paragraphs, sentences


@pytest.mark.parametrize("text, expected", [
    ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
    ("Pi is 3.14 and a grand is 1,000. Next one.", ["Pi is 3.14 and a grand is 1,000.", "Next one."]),
    ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
    ("Use a tool, e.g. a hammer. Or not.", ["Use a tool, e.g. a hammer.", "Or not."]),
    ("Fruit, e.g. Apples, are sweet. Yes.", ["Fruit, e.g. Apples, are sweet.", "Yes."]),
    ("He moved to the U.S. Army base. It was cold.", ["He moved to the U.S. Army base.", "It was cold."]),
    ("J. R. R. Tolkien wrote it. The end.", ["J. R. R. Tolkien wrote it.", "The end."]),
    ('She said "Stop." Then she left.', ['She said "Stop."', "Then she left."]),
    ("Wait... What was that? (Nothing.) Good.", ["Wait...", "What was that?", "(Nothing.)", "Good."]),
    ("It ends at 5 p.m. and then more. Done", ["It ends at 5 p.m. and then more.", "Done"]),
    ("See fig. 3 and No. 7 here. Ok.", ["See fig. 3 and No. 7 here.", "Ok."]),
    ("Version 2.0.1 shipped. Good.", ["Version 2.0.1 shipped.", "Good."]),
    ("In 1999. The year.", ["In 1999.", "The year."]),
    ("One\n\nTwo has no stop\n\n  Three.", ["One", "Two has no stop", "Three."]),
    ("", []),
])
def test_sentences_end_where_a_reader_hears_them(text, expected):
    assert sentences(text) == expected


def test_paragraphs_split_at_blank_lines_only():
    assert paragraphs("a line\nthe same paragraph\n\n\n  second\n \nthird") == [
        "a line\nthe same paragraph", "second", "third"]


def test_the_first_sentence_goes_alone_and_chunks_grow():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    out = chunks(text, "sentence")
    assert out[0] == "Sentence number 0 is here."
    sizes = [len(c) for c in out]
    assert sizes[1] > sizes[0] and sizes[2] > sizes[1]
    assert " ".join(out) == text


def test_no_chunk_exceeds_max_chars_and_no_word_is_cut():
    text = ("A very long sentence with many clauses, running on and on; never stopping: it goes "
            "past any limit a server would accept, and keeps going " * 20).strip() + "."
    out = chunks(text, "sentence", max_chars=100)
    assert all(len(c) <= 100 for c in out)
    assert " ".join(out).split() == text.split()
    assert out[0] == "A very long sentence with many clauses, running on and on; never stopping:"


def test_a_long_sentence_is_cut_at_a_clause_before_a_space():
    text = "First part of it, second part of it, third part that is long enough to matter here."
    out = chunks(text, "none", max_chars=40)
    assert out[0] == "First part of it, second part of it,"
    assert all(len(c) <= 40 for c in out)


def test_numbers_survive_cutting_at_clauses():
    text = "We paid 1,000,000 dollars, then 2,500 more, then 3.75 for the stamp and that was it."
    out = chunks(text, "none", max_chars=30)
    joined = " ".join(out).split()
    assert "1,000,000" in joined and "2,500" in joined and "3.75" in joined
    assert all(len(c) <= 30 for c in out)


def test_none_keeps_the_text_whole_unless_it_is_over_the_limit():
    text = "One. Two. Three."
    assert chunks(text, "none") == [text]
    assert chunks(text, "none", max_chars=100) == [text]
    assert chunks(text, "none", max_chars=10) == ["One. Two.", "Three."]


def test_paragraph_mode_sends_paragraphs():
    text = "First para. Still first.\n\nSecond para.\nSame para."
    assert chunks(text, "paragraph") == ["First para. Still first.", "Second para. Same para."]
    long = "Alpha beta. " * 20 + "\n\nShort."
    out = chunks(long, "paragraph", max_chars=50)
    assert out[-1] == "Short." and all(len(c) <= 50 for c in out)


def test_a_word_longer_than_the_limit_is_the_only_thing_cut():
    out = chunks("ok " + "x" * 25 + " end", "none", max_chars=10)
    assert all(len(c) <= 10 for c in out)
    assert "".join(out).replace(" ", "") == "ok" + "x" * 25 + "end"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        chunks("x", "words")
    with pytest.raises(ValueError):
        chunks("x", "sentence", max_chars=0)


_words = st.text(alphabet="abcXYZ019.,;:!? \n'\"-", min_size=1, max_size=400)


@settings(max_examples=300, deadline=None)
@given(_words, st.sampled_from(["none", "sentence", "paragraph"]), st.integers(min_value=8, max_value=120))
def test_chunks_keep_every_word_in_order_and_respect_the_limit(text, mode, limit):
    out = chunks(text, mode, max_chars=limit)
    assert all(0 < len(c) <= limit for c in out)
    words = text.split()
    if all(len(w) <= limit for w in words):
        assert " ".join(out).split() == words  # never inside a word
    else:
        assert "".join(" ".join(out).split()) == "".join(words)


def test_split_and_max_chars_are_read_from_the_config_and_checked(tmp_path):
    from tts_tui.core.config import load

    path = tmp_path / "config.toml"
    path.write_text('[[services]]\nname = "a"\nsplit = "sentence"\nmax_chars = 4096\n\n'
                    '[[services]]\nname = "b"\nsplit = "words"\n\n'
                    '[[services]]\nname = "c"\nmax_chars = -1\n', encoding="utf-8")
    config = load(path)
    a, b, c = config.services
    assert (a.split, a.max_chars, a.problem) == ("sentence", 4096, None)
    assert "split: unknown mode 'words'" in str(b.problem) and b.problem.line == 8
    assert "max_chars must be 0 (no limit) or more, not -1" in str(c.problem) and c.problem.line == 12
