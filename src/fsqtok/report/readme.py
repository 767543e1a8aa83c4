"""The README's result tables, rendered from reports/ (never typed by hand): `fsqtok readme`
writes each between its markers, and a test fails when the README's tables differ from what
the reports render."""

from __future__ import annotations

import re
from pathlib import Path

from fsqtok.eval.bench import markdown_table
from fsqtok.store.files import atomic_write_bytes, read_json

TOKENIZER_NAMES = {"fsqtok": "fsqtok", "fsqtok_noae": "fsqtok's selection, no auto-encoder filter",
                   "bpe": "BPE (HF `tokenizers`)", "multiword": "multi-word BPE (two-stage, SuperBPE recipe)",
                   "unigram": "Unigram (SentencePiece)",
                   "word": "word top-k + byte fallback", "byte": "byte"}


def percent(value: float, digits: int = 1) -> str:
    """Example: 0.93134 -> "93.1%" """
    return f"{100 * value:.{digits}f}%"


def results_table(reports: Path) -> str:
    """Auto-encoder, vocabulary and headline ratios of the default run."""
    pretrain = read_json(reports / "pretrain/metrics.json")
    codebook = read_json(reports / "codebook/metrics.json")
    headline = read_json(reports / "headline.json")
    evaluate = read_json(reports / "evaluate/metrics.json")
    lm = read_json(reports / "integrate/metrics.json")
    val, ratios = evaluate["reconstruction"]["val_chunks"], evaluate["headline"]
    rows = [
        ("auto-encoder val byte accuracy (best step)", percent(pretrain["best"]["byte_accuracy"]),
         f"step {pretrain['best_step']:,} of {pretrain['steps']:,}"),
        ("exact chunks, by occurrence / distinct", f"{percent(val['exact_match'])} / "
         f"{percent(val['exact_match_distinct'])}", "50,000 val chunks"),
        ("prune candidates verified", f"{codebook['verified_codes']:,} of {codebook['candidates']:,}",
         f"vocabulary {codebook['vocab_size']:,}"),
        ("BPE's pieces the auto-encoder verifies", percent(codebook["bpe_pieces_verified"]),
         "fixed points among the BPE baseline's pieces"),
        ("fsqtok bytes/token vs BPE (val)", f"{headline['tok/vs_bpe']:.3f}×", "above 1: fsqtok compresses better"),
        ("fsqtok bytes/token vs multi-word BPE (val)", f"{headline['tok/vs_multiword']:.3f}×",
         "the fair baseline: multi-word pieces too"),
        ("fsqtok bytes/token vs its selection without the auto-encoder", f"{ratios['fsqtok_vs_noae_compression']:.3f}×",
         "below 1: the pieces it cannot verify cost this much"),
        ("val bytes spelled as raw byte tokens", percent(headline["tok/fallback"]), "fsqtok"),
        ("LM val bits-per-byte, fsqtok vs BPE", f"{headline['lm/bpb_vs_bpe']:.3f}×", "below 1: fsqtok better"),
        ("LM samples' judge bits/byte, fsqtok vs BPE", f"{headline['lm/judge_vs_bpe']:.2f}×",
         "below 1: fsqtok better; samples of each LM's own distribution"),
        ("the same at the prompts' temperature, top-k and top-p",
         f"{lm['fsqtok']['judge_bpb_truncated'] / lm['bpe']['judge_bpb_truncated']:.2f}×",
         "a top-k over tokens cuts each vocabulary differently"),
    ]
    lines = ["| default run | value | note |", "|---|---|---|"]
    return "\n".join(lines + [f"| {name} | {value} | {note} |" for name, value, note in rows])


def tokenizer_table(reports: Path) -> str:
    """Every tokenizer on val and test: compression, fallback, lossless, speed; and its LM."""
    tokenizers = read_json(reports / "evaluate/metrics.json")["tokenizers"]
    lm = read_json(reports / "integrate/metrics.json")
    lines = ["| tokenizer | bytes/token val | test | byte fallback | lossless | cold encode MB/s | LM val BPB "
             "| LM judge bits/byte |", "|---" * 8 + "|"]
    for name, row in tokenizers["val"].items():
        bpb = f"{lm[name]['val_bpb']:.3f}" if name in lm else "–"
        judge = f"{lm[name]['judge_bpb']:.2f} ± {lm[name]['judge_bpb_se']:.2f}" if name in lm else "–"
        lines.append(f"| {TOKENIZER_NAMES.get(name, name)} | {row['bytes_per_token']:.3f} | "
                     f"{tokenizers['test'][name]['bytes_per_token']:.3f} | {percent(1 - row['learned_byte_share'])} | "
                     f"{percent(row['lossless_rate'], 0)} | {row['cold_encode_mb_s']:.1f} | {bpb} | {judge} |")
    return "\n".join(lines)


def bench_table(reports: Path) -> str:
    """`make bench`'s table, when it has been run."""
    path = reports / "bench/metrics.json"
    return markdown_table(read_json(path)) if path.exists() else "(run `make bench`)"


TABLES = {"results": results_table, "tokenizers": tokenizer_table, "bench": bench_table}


def render(readme_text: str, reports: Path) -> str:
    """The README with every `<!-- name:start -->` ... `<!-- name:end -->` block of TABLES filled."""
    for name, table in TABLES.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.DOTALL)
        if pattern.search(readme_text):  # only the blocks this README has: their reports must exist
            rendered = table(reports)
            readme_text = pattern.sub(lambda m, text=rendered: m.group(1) + text + "\n" + m.group(2), readme_text)
    return readme_text


def update_readme(readme: Path, reports: Path) -> bool:
    """Rewrite the README's tables from `reports`; True if anything changed."""
    old = readme.read_text(encoding="utf-8")
    new = render(old, reports)
    if new != old:
        atomic_write_bytes(readme, new.encode("utf-8"))
    return new != old
