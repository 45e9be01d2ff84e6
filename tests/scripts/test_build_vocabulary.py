"""scripts/build_vocabulary.py: the curated phrases pass the word filters, and the shipped list is
what the script builds (phrases first, then words)."""

import importlib.util
from pathlib import Path

import pytest

from singaudit.checks.concepts import load_vocabulary

SCRIPT = Path(__file__).parents[2] / "scripts" / "build_vocabulary.py"
spec = importlib.util.spec_from_file_location("build_vocabulary", SCRIPT)
build_vocabulary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_vocabulary)


def test_phrases_are_filtered_like_words(tmp_path, monkeypatch):
    listed = tmp_path / "phrases.txt"
    listed.write_text("# a comment\nstop sign\nStop Sign\nfuck off\nred  car\nstop sign\n"
                      "cafe\u0301 table\n", encoding="utf-8")
    monkeypatch.setattr(build_vocabulary, "PHRASES", listed)
    assert build_vocabulary.phrases() == ["stop sign", "red car"]


def test_the_shipped_list_starts_with_the_curated_phrases():
    phrases = build_vocabulary.phrases()
    concepts = load_vocabulary("words").concepts
    assert len(phrases) >= 100 and all(len(p.split()) == 2 for p in phrases)
    assert concepts[:len(phrases)] == phrases
    assert not set(concepts[len(phrases):]) & set(phrases)


def test_the_shipped_list_is_what_the_script_builds():
    pytest.importorskip("wordfreq")
    assert build_vocabulary.build(15_000) == load_vocabulary("words").concepts
