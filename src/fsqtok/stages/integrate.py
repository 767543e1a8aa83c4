"""The integrate stage: one small LM per tokenizer in lm.tokenizers with the same shape, steps,
tokens per batch and context, scored in bits-per-byte on identical val bytes."""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from fsqtok.config import LMConfig, Params
from fsqtok.eval.judge import judge_spread, train_judge
from fsqtok.lm.data import encode_documents, pack
from fsqtok.lm.embedding_init import init_from_codes
from fsqtok.lm.io import save_lm
from fsqtok.lm.model import Transformer, TransformerConfig
from fsqtok.lm.sample import UNTRUNCATED, generate, unconditional_samples
from fsqtok.lm.train import bits_per_byte, train_lm
from fsqtok.report.plots import plot_lines
from fsqtok.runtime.device import resolve_device
from fsqtok.runtime.distributed import World, init_world, shutdown
from fsqtok.store.files import read_texts, write_csv, write_json
from fsqtok.text.split import take_bytes
from fsqtok.tokenizers.base import BOS_ID, EOS_ID, Tokenizer
from fsqtok.tokenizers.loading import load_tokenizer, tokenizer_paths

PARAMS = ("distributed", "seed", "device", "precision", "lm", "judge", "tracking")  # all it reads; dvc.yaml the same


def train_one(tokenizer: Tokenizer, train: list[str], val_rows, val_bytes: int, params: Params, seed: int,
              world: World = World(), device: torch.device = torch.device("cpu")):
    """One LM for one tokenizer and seed: the same shape, steps, batch and context for every
    tokenizer; `seed` sets the init and the data order. Returns (model, curve)."""
    config = params.lm
    budget = config.steps * config.batch_size * config.context_tokens
    train_rows = pack(encode_documents(tokenizer.encode, train, budget, seed), config.context_tokens,
                      BOS_ID, EOS_ID, seed)
    torch.manual_seed(seed)
    model = Transformer(TransformerConfig(tokenizer.vocab_size, config.n_layer, config.n_head,
                                          config.d_model, config.context_tokens)).to(device)
    if config.init_from_codes and tokenizer.name == "fsqtok":
        init_from_codes(model, tokenizer)

    def evaluate(step: int) -> dict:
        return bits_per_byte(model, *val_rows, val_bytes, device)

    curve = train_lm(model, *train_rows, config, device, seed, evaluate, tokenizer.name, params.precision, world)
    return model, curve


def lm_row(tokenizer: Tokenizer, model: Transformer, curves: dict[str, list[dict]], val_bytes: int) -> dict:
    """The table row of one tokenizer: size, tokens seen, and val BPB as mean, spread and per seed
    over `curves` ({seed: curve})."""
    final = next(iter(curves.values()))[-1]
    bpbs = {seed: curve[-1]["bpb"] for seed, curve in curves.items()}
    return {"tokenizer": tokenizer.name, "vocab_size": tokenizer.vocab_size, **model.parameter_counts(),
            "tokens_seen": final["tokens_seen"],
            "bytes_seen": round(final["tokens_seen"] * val_bytes / max(1, final["val_tokens"])),
            "val_bytes": val_bytes, "val_tokens": final["val_tokens"], "val_bpb": statistics.mean(bpbs.values()),
            "val_bpb_std": statistics.pstdev(bpbs.values()), "val_bpb_per_seed": bpbs,
            "tokens_per_s": final["tokens_per_s"]}


def samples(model: Transformer, tokenizer: Tokenizer, config: LMConfig, seed: int) -> list[str]:
    """A continuation of each of lm.prompts, prompt included; prompt i samples with seed `seed + i`
    (its own random stream: `fsqtok generate --prompt P --seed S` gives the same text)."""
    return [prompt + tokenizer.decode(generate(model, tokenizer.encode(prompt, add_bos=True), config.sample_tokens,
                                               EOS_ID, config.temperature, config.top_k, config.top_p, seed + i))
            for i, prompt in enumerate(config.prompts)]


def judge_settings(config: LMConfig) -> dict[str, tuple[float, int, float]]:
    """The LM samplings the judge scores, name -> (temperature, top_k, top_p); the first is the
    model's own distribution (temperature 1, no top-k, no top-p): the one setting that treats
    every tokenizer alike, since a top-k over tokens keeps different shares of the text's
    continuations for different vocabularies and a per-token temperature sharpens per token, not
    per byte. The second is lm.temperature, lm.top_k and lm.top_p: the prompts' settings.
    Example: temperature 0.8 -> {"untruncated": (1.0, 0, 1.0), "t0.8": (0.8, 50, 0.95)}"""
    return {"untruncated": UNTRUNCATED, f"t{config.temperature:g}": (config.temperature, config.top_k, config.top_p)}


def judged_samples(model: Transformer, tokenizer: Tokenizer, params: Params, judge_model) -> tuple[dict, dict]:
    """judge.samples unconditional samples of judge.sample_bytes bytes per judge_settings, scored
    by the judge: (scores, {setting: samples}). judge_bpb (mean over the samples) and judge_bpb_se
    (its standard error) score the untruncated samples, judge_bpb_truncated (and _se) the others."""
    texts = {setting: unconditional_samples(model, tokenizer.decode_bytes, BOS_ID, EOS_ID, params.judge.samples,
                                            params.judge.sample_bytes, *sampling, params.seed)
             for setting, sampling in judge_settings(params.lm).items()}
    untruncated, truncated = (judge_spread(judge_model, samples) for samples in texts.values())
    return {**untruncated, "judge_bpb_truncated": truncated["judge_bpb"],
            "judge_bpb_truncated_se": truncated["judge_bpb_se"]}, texts


def run_integrate(params: Params, split_dir: Path, tokenizer_dir: Path, baselines_dir: Path, models: Path,
                  reports: Path, tracker) -> dict:
    """Trains lm.seeds LMs per tokenizer; saves the first seed's LM to models/<tokenizer>/ and
    writes metrics.json, bpb.csv (long), bpb_by_tokenizer.csv (wide), bpb.png, samples.json (the
    prompts') and judge_samples.json (the judged ones) under `reports` (rank 0 under torchrun; the
    other ranks train and return {})."""
    config, paths = params.lm, tokenizer_paths(tokenizer_dir, baselines_dir)
    world, device = init_world(resolve_device(params.device))
    train = read_texts(split_dir / "train.parquet")
    val, val_bytes = take_bytes(read_texts(split_dir / "val.parquet"), config.max_val_bytes)
    table, curve_rows, sampled, judge_texts = {}, [], {}, {}
    judge_model = train_judge(train, params.judge.order, params.judge.train_bytes) if world.is_main else None
    for name in config.tokenizers:
        tokenizer = load_tokenizer(paths[name])
        val_rows = pack([tokenizer.encode(t) for t in val], config.context_tokens, BOS_ID, EOS_ID, None)
        models_by_seed, curves = {}, {}
        for seed in range(params.seed, params.seed + config.seeds):
            run_name = f"integrate/{name}" + (f"/seed{seed}" if config.seeds > 1 else "")
            with tracker.child(run_name, {"tokenizer": name, "seed": str(seed)}) as child:
                models_by_seed[str(seed)], curves[str(seed)] = train_one(tokenizer, train, val_rows, val_bytes,
                                                                         params, seed, world, device)
                for row in curves[str(seed)]:
                    child.metrics({k: v for k, v in row.items() if k != "step"}, step=row["step"])
        if not world.is_main:
            continue
        model, curve = models_by_seed[str(params.seed)], curves[str(params.seed)]  # the one saved and sampled
        scores, judge_texts[name] = judged_samples(model, tokenizer, params, judge_model)
        table[name] = {**lm_row(tokenizer, model, curves, val_bytes), **scores}
        curve_rows += [{"tokenizer": name, **row} for row in curve]
        sampled[name] = samples(model, tokenizer, config, params.seed)
        save_lm(model.cpu(), tokenizer, models / name, meta={"curve": curve, "row": table[name]})
    shutdown(world)
    if not world.is_main:
        return {}
    if "fsqtok" in table and "bpe" in table:
        table["fsqtok_vs_bpe_bpb_ratio"] = table["fsqtok"]["val_bpb"] / table["bpe"]["val_bpb"]
    write_report(reports, table, curve_rows, sampled, config.tokenizers)
    write_json(reports / "judge_samples.json", judge_texts)  # the flow stage judges them next to its own
    tracker.metrics(table)
    for file in ("bpb.png", "samples.json"):
        tracker.artifact(reports / file)
    return table


def write_report(reports: Path, table: dict, curve_rows: list[dict], sampled: dict, names: list[str]) -> None:
    write_csv(reports / "bpb.csv", curve_rows)
    wide = {}  # step -> {step, <tokenizer>: bpb, ...}
    for row in curve_rows:
        wide.setdefault(row["step"], {"step": row["step"]})[row["tokenizer"]] = row["bpb"]
    write_csv(reports / "bpb_by_tokenizer.csv", list(wide.values()))  # one column, so one plotted line, each
    plot_lines(list(wide.values()), "step", list(names), reports / "bpb.png", "Val bits-per-byte")
    write_json(reports / "metrics.json", table)
    write_json(reports / "samples.json", sampled)
