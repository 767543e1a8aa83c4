from fsqtok.eval.metrics import (
    aligned_accuracy,
    levenshtein,
    normalized_levenshtein,
    reconstruction_case,
    summarize_cases,
    tokenization_metrics,
)
from fsqtok.report.html import comparison_report, highlight_diff
from fsqtok.report.plots import coverage_curve
from fsqtok.tokenizers.baselines import ByteTokenizer
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer


def test_edit_distances_hand_computed():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert normalized_levenshtein("abcd", "abxd") == 0.25
    assert normalized_levenshtein("", "") == 0.0


def test_accuracy_and_cases():
    assert aligned_accuracy("hello", "hallo!") == 0.8
    assert aligned_accuracy("", "x") == 1.0
    case = reconstruction_case("héllo", "hello")
    assert case["char_accuracy"] == 0.8
    assert case["byte_accuracy"] == 2 / 6  # h(c3)(a9)llo vs hello: h and the first l line up
    assert case["exact"] is False
    summary = summarize_cases([case, reconstruction_case("ab", "ab")])
    assert summary["exact_matches"] == 1 and summary["cases"] == 2
    assert summary["char_accuracy"] == 0.9


def test_tokenization_metrics_hand_computed():
    tok = AutoEncoderTokenizer([b" the", b"cat"], [7, 8], 16)
    metrics = tokenization_metrics(tok, ["cat the", " the"])
    # "cat the" -> [cat][ the] ; " the" -> [ the]: 11 bytes in 3 tokens, all learned
    assert metrics["tokens"] == 3 and metrics["bytes"] == 11
    assert metrics["bytes_per_token"] == 11 / 3
    assert metrics["tokens_per_word"] == 3 / 3
    assert metrics["learned_byte_share"] == 1.0
    assert metrics["vocab_utilization"] == 2 / 258
    assert metrics["lossless_rate"] == 1.0
    byte = tokenization_metrics(ByteTokenizer(), ["ab"])
    assert byte["bytes_per_token"] == 1.0 and byte["learned_byte_share"] == 0.0


def test_coverage_curve():
    assert coverage_curve([3, 1]) == [(1, 0.75), (2, 1.0)]
    assert coverage_curve([]) == []


def test_report_pieces_are_offline_html():
    assert highlight_diff("cat", "cut") == 'c<span class="bad">u</span>t'
    assert highlight_diff("ab", "a") == 'a<span class="bad">∅</span>'
    html = comparison_report({"a": {"x": 1.0}, "n": "t"}, {"a": {"x": 1.5}}, "A", "B")
    assert "<td>a.x</td>" in html and "+0.5" in html and "http" not in html
    assert "<td>n</td>" not in html  # text values are not metrics
