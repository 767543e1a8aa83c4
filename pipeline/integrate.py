"""Stage integrate: one LM per tokenizer in lm.tokenizers, same shape, steps, tokens per batch
and context -> models/lm/<tokenizer>/, reports/integrate/{metrics.json, bpb.csv, bpb.png, samples.json}."""

import statistics
from functools import partial
from pathlib import Path

import pandas as pd
import torch
import typer

from fsqtok.config import load_params
from fsqtok.device import resolve_device, set_threads
from fsqtok.errors import user_errors
from fsqtok.files import read_parquet, write_json
from fsqtok.lm.data import encode_documents, pack, take_bytes
from fsqtok.lm.embedding_init import init_from_codes
from fsqtok.lm.io import save_lm
from fsqtok.lm.model import Transformer, TransformerConfig
from fsqtok.lm.sample import generate
from fsqtok.lm.train import bits_per_byte, train_lm
from fsqtok.loading import pipeline_tokenizer
from fsqtok.plots import plot_lines
from fsqtok.protocol import BOS_ID, EOS_ID
from fsqtok.tracking import stage_run

PROMPTS = ["In the beginning", "The city of"]


def main(split_dir: Path = Path("data/split"), models: Path = Path("models/lm"),
         reports: Path = Path("reports/integrate")) -> None:
    with user_errors():
        params = load_params()
        set_threads(0)
        device, config = resolve_device(params.device), params.lm
        with stage_run("integrate", params, ["seed", "device", "precision", "lm"]) as tracker:
            train = list(read_parquet(split_dir / "train.parquet", ["text"])["text"])
            val, val_bytes = take_bytes(list(read_parquet(split_dir / "val.parquet", ["text"])["text"]),
                                        config.max_val_bytes)
            rows, curves, samples = [], [], {}
            for name in config.tokenizers:
                tokenizer = pipeline_tokenizer(name)
                val_rows = pack([tokenizer.encode(t) for t in val], config.context_tokens, BOS_ID, EOS_ID, None)
                seeds = range(params.seed, params.seed + config.seeds)
                runs = []  # (model, curve) per seed
                for seed in seeds:
                    run_name = f"integrate/{name}" + (f"/seed{seed}" if config.seeds > 1 else "")
                    with tracker.child(run_name, {"tokenizer": name, "seed": str(seed)}) as child:
                        model, curve = train_one(name, tokenizer, train, val_rows, val_bytes, config, device, seed,
                                                 params.precision)
                        for row in curve:
                            child.metrics({k: v for k, v in row.items() if k != "step"}, step=row["step"])
                    runs.append((model, curve))
                model, curve = runs[0]  # the first seed's model is the one saved and sampled
                final = curve[-1]
                bpbs = {str(seed): run_curve[-1]["bpb"] for seed, (_, run_curve) in zip(seeds, runs, strict=True)}
                rows.append({"tokenizer": name, "vocab_size": tokenizer.vocab_size, **model.parameter_counts(),
                             "tokens_seen": final["tokens_seen"], "bytes_seen": round(final["tokens_seen"]
                             * val_bytes / max(1, final["val_tokens"])), "val_bytes": val_bytes,
                             "val_tokens": final["val_tokens"], "val_bpb": statistics.mean(bpbs.values()),
                             "val_bpb_std": statistics.pstdev(bpbs.values()), "val_bpb_per_seed": bpbs,
                             "tokens_per_s": final["tokens_per_s"]})
                curves += [{"tokenizer": name, **row} for row in curve]
                samples[name] = [prompt + tokenizer.decode(generate(
                    model, tokenizer.encode(prompt, add_bos=True), config.sample_tokens, EOS_ID,
                    config.temperature, config.top_k, config.top_p, params.seed)) for prompt in PROMPTS]
                save_lm(model.cpu(), tokenizer, models / name, meta={"curve": curve, "row": rows[-1]})
            table = {row["tokenizer"]: row for row in rows}
            if "fsqtok" in table and "bpe" in table:
                table["fsqtok_vs_bpe_bpb_ratio"] = table["fsqtok"]["val_bpb"] / table["bpe"]["val_bpb"]
            reports.mkdir(parents=True, exist_ok=True)
            frame = pd.DataFrame(curves)
            frame.to_csv(reports / "bpb.csv", index=False)
            wide = frame.pivot(index="step", columns="tokenizer", values="bpb").reset_index()
            plot_lines(wide, "step", list(config.tokenizers), reports / "bpb.png", "Val bits-per-byte")
            write_json(reports / "metrics.json", table)
            write_json(reports / "samples.json", samples)
            tracker.metrics({k: v for k, v in table.items()})
            for name in ("bpb.png", "samples.json"):
                tracker.artifact(reports / name)
        print("integrate: " + ", ".join(f"{r['tokenizer']} BPB {r['val_bpb']:.4f}" for r in rows))


def train_one(name: str, tokenizer, train: list[str], val_rows, val_bytes: int, config, device, seed: int,
              precision: str):
    """One LM for one tokenizer and seed: the same shape, steps, batch and context for every
    tokenizer; `seed` sets the init and the data order. Returns (model, curve)."""
    budget = config.steps * config.batch_size * config.context_tokens
    train_rows = pack(encode_documents(tokenizer.encode, train, budget, seed), config.context_tokens,
                      BOS_ID, EOS_ID, seed)
    torch.manual_seed(seed)
    model = Transformer(TransformerConfig(tokenizer.vocab_size, config.n_layer, config.n_head,
                                          config.d_model, config.context_tokens)).to(device)
    if config.init_from_codes and name == "fsqtok":
        init_from_codes(model, tokenizer)
    evaluate = partial(val_bpb, model, val_rows, val_bytes, device)
    curve = train_lm(model, *train_rows, config, device, seed, evaluate, max(1, config.steps // 10), name,
                     precision)
    return model, curve


def val_bpb(model, val_rows, val_bytes: int, device, step: int) -> dict:
    return bits_per_byte(model, *val_rows, val_bytes, 64, device)


if __name__ == "__main__":
    typer.run(main)
