"""Self-contained HTML reports: one file, inline PNG plots, no network URLs.

`evaluation_report` is the evaluate stage's page; `comparison_report` compares any two
metrics JSON files (`fsqtok compare`).
"""

from __future__ import annotations

import difflib
import html
from pathlib import Path

from fsqtok.autoencoder.metrics import FREQUENCY_BUCKETS, bucket_label
from fsqtok.report.plots import png_data_uri
from fsqtok.store.tracking import flatten

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{background:#ffd6d6;text-decoration:underline wavy #c00} .good{color:#070} .worse{color:#a00}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all;font-family:ui-monospace,monospace}
td{max-width:360px}
img{max-width:48%;margin:4px;border:1px solid #eee} .meta{color:#666;font-size:13px}
"""


def esc(value: object) -> str:
    return html.escape(str(value))


def number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def highlight_diff(original: str, reconstruction: str) -> str:
    """The reconstruction as HTML with every character that differs from the original marked.
    Example: ("cat", "cut") -> 'c<span class="bad">u</span>t'"""
    out = []
    matcher = difflib.SequenceMatcher(a=original, b=reconstruction, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        piece = esc(reconstruction[j1:j2])
        out.append(piece if tag == "equal" else f'<span class="bad">{piece or "∅"}</span>')
    return "".join(out)


def table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{number(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f"<td>{c}</td>" for c in row
        ) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, sections: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>{''.join(sections)}</body></html>")


def images(paths: list[Path]) -> str:
    return "".join(f'<img alt="{esc(p.stem)}" src="{png_data_uri(p)}">' for p in paths if p.exists())


def cases_table(before: list[dict], after: list[dict]) -> str:
    rows = []
    for b, a in zip(before, after, strict=True):
        rows.append([
            f"<pre>{esc(a['input'])}</pre>",
            f"<pre>{highlight_diff(b['input'], b['reconstruction'])}</pre>",
            f"<pre>{highlight_diff(a['input'], a['reconstruction'])}</pre>",
            b["byte_accuracy"], a["byte_accuracy"], "✔" if a["exact"] else "✘",
        ])
    return table(["input", "before (untrained)", "after (trained)", "byte acc before", "byte acc after", "exact"], rows)


def delta_cell(value: float, reference: float, higher_is_better: bool = True) -> str:
    if not reference:
        return number(value)
    change = value / reference - 1
    better = (change >= 0) == higher_is_better
    return f'{number(value)} <span class="{"good" if better else "worse"}">({change:+.1%})</span>'


SPEED_COLUMNS = ("cold_encode_mb_s", "batch_encode_mb_s", "decode_mb_s")  # timed on val only


def tokenizer_table(tokenizers: dict[str, dict], reference: str = "bpe") -> str:
    """One row per tokenizer; bytes/token and speeds with their change against `reference`."""
    ref = tokenizers.get(reference, {})
    rows = []
    for name, m in tokenizers.items():
        rows.append([
            f"<b>{esc(name)}</b>", m["vocab_size"],
            delta_cell(m["bytes_per_token"], ref.get("bytes_per_token", 0)),
            m["tokens_per_word"], m["learned_byte_share"], m["vocab_utilization"], m["lossless_rate"],
            *(delta_cell(m[key], ref.get(key, 0)) if key in m else "" for key in SPEED_COLUMNS),
            m.get("resident_mb", ""),
        ])
    return table(["tokenizer", "vocab", f"bytes/token (vs {reference})", "tokens/word", "learned-token byte share",
                  "vocab utilization", "lossless rate", "cold encode MB/s", "batch encode MB/s", "decode MB/s",
                  "resident MB"], rows)


def summary_table(before: dict, after: dict) -> str:
    rows = [[key, before.get(key, ""), after[key]] for key in after if isinstance(after[key], (int, float))]
    return table(["metric", "before", "after"], rows)


def autoencoder_section(pretrain: dict, codebook: dict) -> str:
    """The best pretrain step's val byte accuracy by how often a chunk occurs in train, its exact
    match, and how many prune candidates the auto-encoder reconstructs exactly."""
    best, shares = pretrain["best"], pretrain["val_bytes"]
    rows = [[f"seen {bucket_label(name)} in train", shares[f"byte_share_train_{name}"],
             best.get(f"byte_accuracy_train_{name}", "none in val")] for name in FREQUENCY_BUCKETS]
    rows.append(["all val chunks", 1.0, best["byte_accuracy"]])
    return (f"<h2>Auto-encoder (pretrain step {best['step']:,} of {pretrain['steps']:,})</h2>"
            + table(["val chunks", "share of val bytes", "byte accuracy"], rows)
            + f"<p>Exact match: {best['exact_match']:.1%} of val chunk occurrences, "
              f"{best['exact_match_distinct']:.1%} of distinct val chunks. Prune: {codebook['verified_codes']:,} of "
              f"{codebook['candidates']:,} candidates reconstruct exactly (verified), "
              f"{codebook['learned_pieces']:,} kept.</p>")


def ablation_paragraph(val: dict[str, dict], codebook: dict) -> str:
    """What the auto-encoder costs or buys: fsqtok against the same selection with every candidate
    counted as verified (fsqtok_noae, whose pieces pretrain teaches the auto-encoder), and against
    the multi-word BPE, with the numbers behind it."""
    ours, noae, multiword = (val[n]["bytes_per_token"] for n in ("fsqtok", "fsqtok_noae", "multiword"))
    return (f"<h2>What the auto-encoder buys</h2><p>fsqtok encodes val at {ours:.3f} bytes/token; the same "
            f"selection and encoder with every candidate counted as verified (fsqtok_noae) reach {noae:.3f}, so "
            f"verification by the auto-encoder moves compression by {ours / noae:.3f}×. Pretrain teaches the "
            f"auto-encoder fsqtok_noae's pieces: it verifies {codebook['noae_pieces_verified']:.1%} of them, and "
            f"{codebook['noae_pieces_shared']:,} of them are in fsqtok's vocabulary of "
            f"{codebook['learned_pieces']:,}; it reconstructs {codebook['bpe_pieces_verified']:.1%} of the BPE "
            f"baseline's pieces exactly. Against the multi-word BPE ({multiword:.3f} bytes/token) fsqtok stands at "
            f"{ours / multiword:.3f}×.</p>")


def evaluation_report(metrics: dict, before: dict, plot_paths: list[Path], run_meta: dict, autoencoder: str) -> str:
    """`before` is the untrained auto-encoder's reconstruction report (baseline_eval);
    `autoencoder` the autoencoder_section."""
    after = metrics["reconstruction"]
    sections = [
        f"<p class='meta'>git {esc(run_meta.get('git_rev'))} · params {esc(run_meta.get('params_hash'))} · "
        f"test cases v{esc(after['test_cases_version'])}</p>",
        autoencoder,
        "<h2>Reconstruction: before vs after training</h2>",
        "<h3>Test cases</h3>", summary_table(before["test_cases"], after["test_cases"]),
        "<h3>Val chunks</h3>", summary_table(before["val_chunks"], after["val_chunks"]),
        "<h3>Per test case</h3><p>Characters the decoder got wrong are marked.</p>",
        cases_table(before["cases"], after["cases"]),
        "<h2>Tokenizers on val (lossless encode)</h2>", tokenizer_table(metrics["tokenizers"]["val"]),
        "<h2>Tokenizers on test</h2>", tokenizer_table(metrics["tokenizers"]["test"]),
        "<h2>Plots</h2>", images(plot_paths),
    ]
    return page("fsqtok evaluation", sections)


def comparison_report(a: dict, b: dict, name_a: str, name_b: str) -> str:
    """Every numeric metric in either file, side by side with the change."""
    flat_a, flat_b = flatten(a), flatten(b)
    rows = []
    for key in sorted(set(flat_a) | set(flat_b)):
        x, y = flat_a.get(key), flat_b.get(key)
        if not any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
            continue
        change = f"{(y - x):+.4g}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) else ""
        rows.append([esc(key), x if x is not None else "", y if y is not None else "", change])
    return page(f"fsqtok compare: {name_a} vs {name_b}", [table(["metric", name_a, name_b, "change"], rows)])


def flow_report(metrics: dict, samples: dict[str, dict[str, list[str]]]) -> str:
    """The flow stage's page: every generator and setting as the judge scored it, the
    reconstruction ceiling, and two samples of each generator side by side."""
    rows = [[f"<b>{esc(name)}</b>", esc(setting), s["judge_bpb"], s["unigram_entropy"], s["distinct_2"],
             s["distinct_3"], s["distinct_4"]]
            for name, g in metrics["generators"].items() for setting, s in g["settings"].items()]
    ceiling = metrics["ceiling"]
    ceiling_rows = [["grid", ceiling["byte_accuracy"], ceiling["exact_chunks"]]]
    if ceiling["vocab"]:  # None when the tokenizer verified no codes
        ceiling_rows.append(["vocab", ceiling["vocab"]["byte_accuracy"], ceiling["vocab"]["exact_chunks"]])
    sample_rows = [[f"<b>{esc(name)}</b>", esc(setting), *(f"<pre>{esc(t)}</pre>" for t in texts[:2])]
                   for name, by_setting in samples.items() for setting, texts in list(by_setting.items())[:1]]
    sections = [
        "<p>Unconditional samples of every generator, scored by one judge none of them is (a Kneser-Ney byte "
        "n-gram model of train text the flow never saw): bits per byte (lower reads more like the data) next "
        "to word entropy and distinct-n (repetition scores low there). <b>val_text</b> is real text. An LM's "
        "<b>untruncated</b> samples are drawn from its own distribution; <b>t0.8</b> and the like use "
        "lm.top_k and lm.top_p too, which cut each vocabulary's distribution differently.</p>",
        "<h2>Generators</h2>",
        table(["generator", "setting", "judge bits/byte", "word entropy", "distinct-2", "distinct-3", "distinct-4"],
              rows),
        "<h2>Reconstruction ceiling (real latents → snap → decoder)</h2>",
        table(["snap", "byte accuracy", "exact chunks"], ceiling_rows),
        "<h2>Samples (default setting)</h2>", table(["generator", "setting", "sample 1", "sample 2"], sample_rows),
    ]
    return page("fsqtok latent flow", sections)
