"""Plots as PNG files (and CSV beside them for `dvc plots`), drawn with matplotlib's Agg backend."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def coverage_curve(rank_frequency: list[int], points: int = 60) -> list[tuple[int, float]]:
    """(k, share of occurrences covered by the k most frequent codes) at log-spaced k.
    Example: [3, 1] -> [(1, 0.75), (2, 1.0)]"""
    total = sum(rank_frequency) or 1
    n = len(rank_frequency)
    ks = sorted({max(1, round(n ** (i / (points - 1)))) for i in range(points)} | {n}) if n else []
    cumulative, running, k_iter = [], 0, iter(ks)
    next_k = next(k_iter, None)
    for rank, count in enumerate(rank_frequency, 1):
        running += count
        if rank == next_k:
            cumulative.append((rank, running / total))
            next_k = next(k_iter, None)
    return cumulative


def save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)


def plot_codebook(rank_frequency: list[int], coverage: list[tuple[int, float]], out_dir: Path) -> None:
    """rank_frequency.png (log-log) and coverage.png, with their CSVs."""
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    ranks = pd.DataFrame({"rank": range(1, len(rank_frequency) + 1), "occurrences": rank_frequency})
    ranks.to_csv(out_dir / "rank_frequency.csv", index=False)
    pd.DataFrame(coverage, columns=["k", "coverage"]).to_csv(out_dir / "coverage.csv", index=False)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.loglog(ranks["rank"], ranks["occurrences"])
    ax.set(xlabel="code rank", ylabel="train chunk occurrences", title="Code rank-frequency")
    save_figure(fig, out_dir / "rank_frequency.png")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogx([k for k, _ in coverage], [c for _, c in coverage])
    ax.set(xlabel="top-k codes", ylabel="share of occurrences", title="Coverage vs k", ylim=(0, 1.02))
    save_figure(fig, out_dir / "coverage.png")


def plot_lines(rows, x: str, ys: list[str], path: Path, title: str, logy: bool = False) -> None:
    """One line per column in `ys` against `x`; `rows` is a DataFrame or a list of dicts."""
    plt = _pyplot()
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for y in ys:
        ax.plot(frame[x], frame[y], label=y, marker="o" if len(frame) < 30 else None)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=x, title=title)
    if len(ys) > 3:  # many lines cover the whole axes: the legend goes beside them
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        ax.legend()
    save_figure(fig, path)


def plot_scale(rows: list[dict], steps: tuple[str, ...], path: Path) -> None:
    """`make bench-scale`'s rows: seconds and peak resident MB of each step against the train
    text's size, log-log (a slope of 1 is linear growth)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for step in steps:
        mine = sorted((r["train_mb"], r["seconds"], r["peak_mb"]) for r in rows if r["step"] == step)
        for axis, column in zip(axes, (1, 2), strict=True):
            axis.plot([m[0] for m in mine], [m[column] for m in mine], marker="o", label=step)
    for axis, label in zip(axes, ("seconds", "peak resident MB"), strict=True):
        axis.set(xscale="log", yscale="log", xlabel="train text (MB)", ylabel=label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Corpus-side cost by corpus size (each step in a fresh process)")
    fig.tight_layout()  # the right plot's label clears the left one
    save_figure(fig, path)


def plot_bars(values: dict[str, float], path: Path, title: str, ylabel: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(list(values), list(values.values()), color="#4c72b0")
    for i, v in enumerate(values.values()):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom")
    ax.set(ylabel=ylabel, title=title)
    save_figure(fig, path)


def png_data_uri(path: Path) -> str:
    """A PNG file as a data: URI, so an HTML report needs no other file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()
