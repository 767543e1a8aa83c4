"""The flow stage: train the latent flow generator on the frozen auto-encoder's chunk latents,
measure its reconstruction ceiling, and judge unconditional samples of the flow and of every
token LM of integrate (its judge_samples.json; same bytes per sample) with one independent judge."""

from __future__ import annotations

from pathlib import Path

import torch

from fsqtok.autoencoder.data import unpack_chunks
from fsqtok.autoencoder.infer import decode_indices
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import Params
from fsqtok.eval.judge import judge, train_judge
from fsqtok.flow.data import LatentWindows, latent_windows
from fsqtok.flow.io import save_flow
from fsqtok.flow.sample import generate, snap
from fsqtok.flow.train import FlowRun
from fsqtok.report.html import flow_report
from fsqtok.runtime.device import resolve_device
from fsqtok.runtime.distributed import init_world, shutdown
from fsqtok.store.bundle import WEIGHTS
from fsqtok.store.checkpoint import Checkpointer
from fsqtok.store.files import atomic_write_bytes, read_json, read_texts, write_csv, write_json
from fsqtok.store.provenance import run_key
from fsqtok.text.split import take_bytes
from fsqtok.tokenizers.loading import load_tokenizer

# the params it reads; dvc.yaml lists the same
PARAMS = ("distributed", "seed", "precision", "flow", "judge", "tracking")


def ceiling(autoencoder: ByteAutoEncoder, windows: LatentWindows, mode: str, vocab: torch.Tensor) -> dict:
    """Real latents -> snap -> decoder, against the real chunks: the best any generated latent
    sequence can be spelled. Byte accuracy counts equal bytes at equal positions."""
    indices = snap(windows.codes[windows.mask], autoencoder.fsq, mode, vocab)  # (M,)
    real = unpack_chunks(windows.bytes[windows.mask])
    spelled = decode_indices(autoencoder, indices)
    matches = sum(sum(a == b for a, b in zip(r, s, strict=False)) for r, s in zip(real, spelled, strict=True))
    exact = sum(r == s for r, s in zip(real, spelled, strict=True))
    return {"byte_accuracy": matches / max(1, sum(map(len, real))), "exact_chunks": exact / max(1, len(real))}


def cut(data: bytes, n_bytes: int) -> str:
    return data[:n_bytes].decode("utf-8", "replace")


def generator_samples(params: Params, flow, autoencoder, vocab: torch.Tensor, lm_samples: dict,
                      val: list[str]) -> dict[str, dict[str, list[str]]]:
    """{generator: {setting: samples}}, judge.samples of judge.sample_bytes bytes each; each
    generator's default setting comes first: for the flow flow.sample_steps and flow.snap, for an
    LM integrate's samples (`lm_samples`, read from its judge_samples.json: untruncated first)."""
    config, judge = params.flow, params.judge
    default, modes = (config.sample_steps, config.snap), ("grid", "vocab") if len(vocab) else ("grid",)
    settings = [default] + [(s, m) for s in config.step_counts for m in modes if (s, m) != default]
    out = {"flow": {f"steps{s}/{m}": [cut(text, judge.sample_bytes) for text in generate(
        flow, autoencoder, judge.samples, config.seq_chunks, s, config.noise_std, params.seed, m, vocab)]
        for s, m in settings}}
    out.update(lm_samples)
    text = "\n".join(val).encode("utf-8")
    out["val_text"] = {"data": [cut(text[i * judge.sample_bytes :], judge.sample_bytes)
                                for i in range(judge.samples)]}
    return out


def run_flow(params: Params, split_dir: Path, tokenizer_dir: Path, lm_samples: Path, out: Path,
             checkpoint_dir: Path, reports: Path, tracker) -> dict:
    """Train (or resume) the flow, save it to `out`, and judge its samples next to the LMs' samples
    of integrate (`lm_samples`: its judge_samples.json) and val text; reports under `reports`."""
    config = params.flow
    lm_texts = read_json(lm_samples)  # before training: a missing file stops the stage at once
    tokenizer = load_tokenizer(tokenizer_dir)
    autoencoder = tokenizer.model
    train = read_texts(split_dir / "train.parquet")
    latent_half = train[0::2]  # the judge learns from the other half (train_judge): text the flow never saw
    val = take_bytes(read_texts(split_dir / "val.parquet"), config.max_val_bytes)[0]
    windows = {"train": latent_windows(autoencoder, take_bytes(latent_half, config.max_train_bytes)[0],
                                       config.seq_chunks), "val": latent_windows(autoencoder, val, config.seq_chunks)}
    key = run_key(params.digest("seed", "precision", "flow"),
                  [split_dir / "train.parquet", split_dir / "val.parquet", tokenizer_dir / WEIGHTS],
                  ("flow", "lm/model.py", "runtime", "autoencoder", "text"))  # lm.model.sdpa runs in the flow
    world, _ = init_world(resolve_device("cpu"))  # the flow trains on CPU: its batches are small
    run = FlowRun(config, params.seed, autoencoder, windows["train"], windows["val"],
                  Checkpointer(checkpoint_dir / key, config.keep_checkpoints, "flow"), key,
                  on_eval=lambda row: tracker.metrics(row, step=row["step"]), world=world,
                  precision=params.precision)
    flow, state = run.run()
    shutdown(world)
    if not world.is_main:
        return {}
    save_flow(flow, config, tokenizer_dir, out, meta={"step": state.step, "metrics": state.history[-1]})
    vocab = tokenizer.code_tensor()
    judge_model = train_judge(train, params.judge.order, params.judge.train_bytes)
    samples = generator_samples(params, flow, autoencoder, vocab, lm_texts, val)
    generators = {}
    for name, by_setting in samples.items():
        scores = {setting: judge(judge_model, texts) for setting, texts in by_setting.items()}
        default = next(iter(scores))
        generators[name] = {**scores[default], "setting": default, "settings": scores}
    metrics = {"ceiling": {**ceiling(autoencoder, windows["val"], "grid", vocab),
                           "vocab": ceiling(autoencoder, windows["val"], "vocab", vocab) if len(vocab) else None},
               "generators": generators, "training": state.history[-1],
               "windows": {split: len(w) for split, w in windows.items()},
               "sample_bytes": params.judge.sample_bytes}
    write_csv(reports / "curve.csv", state.history)
    write_json(reports / "metrics.json", metrics)
    write_json(reports / "samples.json", samples)
    atomic_write_bytes(reports / "report.html", flow_report(metrics, samples).encode())
    tracker.metrics({k: v for k, v in metrics.items() if k != "training"})
    for name in ("report.html", "samples.json"):
        tracker.artifact(reports / name)
    return metrics
