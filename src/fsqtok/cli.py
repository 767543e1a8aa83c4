"""The `fsqtok` command: run the pipeline, use and inspect tokenizers.

Errors caused by input are one line on stderr with exit status 2 (see errors.user_errors).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer

from fsqtok.errors import FsqtokError, user_errors

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])

TOKENIZER_DIR, BASELINES_DIR = Path("models/tokenizer"), Path("models/baselines")  # where `make repro` puts them
TOKENIZER_OPTION = typer.Option(TOKENIZER_DIR, "--tokenizer", "-t",
                                help="tokenizer bundle folder (fsqtok, bpe or word), or 'byte'")
INPUT_ARGUMENT = typer.Argument(None, help="input file; '-' or nothing reads stdin")


def show_version(value: bool) -> None:
    if value:
        from fsqtok.store.provenance import versions

        installed = versions()
        typer.echo(f"fsqtok {installed['fsqtok']} (torch {installed['torch']})")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="print fsqtok's and torch's versions and exit")) -> None:
    """Run the pipeline, use and inspect tokenizers."""


def read_input(path: Path | None) -> bytes:
    if path is None or str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as err:
        raise FsqtokError(f"{path}: cannot read ({err.strerror})") from None


def parse_ids(raw: bytes) -> list[int]:
    """A JSON list of ints, or one int per line."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        ids = json.loads(text) if text.startswith("[") else [int(line) for line in text.split()]
    except (ValueError, json.JSONDecodeError):
        raise FsqtokError("ids must be a JSON list of integers or one integer per line") from None
    if not all(isinstance(i, int) for i in ids):
        raise FsqtokError("ids must be a JSON list of integers or one integer per line")
    return ids


@app.command()
def repro(args: list[str] = typer.Argument(None, help="extra arguments for dvc repro")) -> None:
    """Run `dvc repro` under one parent MLflow run that groups the stages' runs."""
    from fsqtok.config import load_params
    from fsqtok.store.tracking import pipeline_run

    with user_errors():
        params = load_params()
        with pipeline_run(params) as env:
            code = subprocess.run(["dvc", "repro", *(args or [])], env=env).returncode
            if code:
                raise typer.Exit(code)


def profile_overrides(profile: Path) -> list[str]:
    """`dvc exp run -S` arguments for a profile YAML, checked against params.yaml first."""
    from fsqtok.config import params_from_dict, read_yaml
    from fsqtok.store.tracking import flatten

    try:
        overrides = read_yaml(profile) or {}
        base = read_yaml(Path("params.yaml")) or {}
    except OSError as err:
        raise FsqtokError(f"{profile}: cannot read the profile ({err.strerror})") from None
    merged = dict(base)
    for section, values in overrides.items():
        merged[section] = {**base.get(section, {}), **values} if isinstance(values, dict) else values
    params_from_dict(merged)  # a bad key or value fails here, before DVC starts
    return [arg for key, value in flatten(overrides).items() for arg in ("-S", f"{key}={json.dumps(value)}")]


@app.command()
def exp(
    profile: Path = typer.Option(..., "--profile", help="YAML of params overrides, e.g. profiles/seed.yaml"),
    name: str | None = typer.Option(None, help="experiment name (default: the profile's file name; "
                                    "with --queue, DVC's names)"),
    queue: bool = typer.Option(False, "--queue", help="queue the experiment(s) for `dvc queue start -j N` "
                               "instead of running now"),
    overrides: list[str] = typer.Option([], "--set", "-S", help="one more override on top of the profile, as "
                                        "for `dvc exp run -S`: KEY=VALUE, or KEY=A,B to queue a grid"),
) -> None:
    """Run the pipeline as a DVC experiment with a params profile applied (`dvc exp run -S ...`),
    then summarise it in reports/profiles/<name>/ (metrics.json, curve.csv, curve.png); with
    --queue, only queue it (a grid if a --set lists several values)."""
    from fsqtok.report.profile import write_profile_report

    with user_errors():
        args = profile_overrides(profile) + [arg for value in overrides for arg in ("-S", value)]
    if queue:
        named = ["--name", name] if name else []
        code = subprocess.run(["dvc", "exp", "run", "--queue", *named, *args]).returncode
        if not code:
            typer.echo("queued: run them with `dvc queue start -j 2`, follow with `dvc queue status`, "
                       "compare with `dvc exp show` and `mlflow ui`")
        raise typer.Exit(code)
    name = name or profile.stem
    code = subprocess.run(["dvc", "exp", "run", "--name", name, *args]).returncode
    if code:
        raise typer.Exit(code)
    with user_errors():
        summary = write_profile_report(Path("."), Path("reports/profiles") / name)
    best = summary["pretrain"]["best"]
    typer.echo(f"{name}: val byte accuracy {best['byte_accuracy']:.4f}, {summary['candidates_verified']} candidates "
               f"verified, vocab {summary['vocab_size']} -> reports/profiles/{name}/")


@app.command()
def encode(
    path: Path | None = INPUT_ARGUMENT,
    tokenizer: Path = TOKENIZER_OPTION,
    lines: bool = typer.Option(False, "--lines", help="one id per line instead of a JSON list"),
) -> None:
    """Bytes of a file or stdin -> token ids (lossless for any bytes)."""
    from fsqtok.tokenizers.loading import load_tokenizer

    with user_errors():
        ids = load_tokenizer(tokenizer).encode_array(read_input(path))
    write_ids(ids, lines)


def write_ids(ids, lines: bool, block: int = 1 << 16) -> None:
    """Ids to stdout as one JSON list (or one per line), written a block at a time so that a
    large input never becomes one huge string."""
    separator = "\n" if lines else ", "
    sys.stdout.write("" if lines else "[")
    for i in range(0, len(ids), block):
        sys.stdout.write((separator if i else "") + separator.join(map(str, ids[i : i + block])))
    sys.stdout.write("\n" if lines else "]\n")


@app.command()
def decode(path: Path | None = INPUT_ARGUMENT, tokenizer: Path = TOKENIZER_OPTION) -> None:
    """Token ids (JSON list or one per line) -> the exact bytes, on stdout."""
    from fsqtok.tokenizers.loading import load_tokenizer

    with user_errors():
        data = load_tokenizer(tokenizer).decode_bytes(parse_ids(read_input(path)))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command()
def reconstruct(path: Path | None = INPUT_ARGUMENT, tokenizer: Path = TOKENIZER_OPTION) -> None:
    """Text through the lossy neural path (encoder -> FSQ code -> decoder)."""
    from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

    with user_errors():
        data = AutoEncoderTokenizer.load(tokenizer).reconstruct_bytes(read_input(path))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command()
def inspect(tokenizer: Path = TOKENIZER_OPTION) -> None:
    """Summary of a tokenizer bundle: vocab size, levels, specials, versions, metrics."""
    from fsqtok.store.bundle import read_json_file
    from fsqtok.tokenizers.loading import load_tokenizer

    with user_errors():
        loaded = load_tokenizer(tokenizer)
        config = read_json_file(tokenizer / "config.json") if tokenizer.is_dir() else {}
        meta = read_json_file(tokenizer / "meta.json") if tokenizer.is_dir() else {}
    summary = {
        "path": str(tokenizer),
        "kind": config.get("format", "fsqtok.byte"),
        "vocab_size": loaded.vocab_size,
        "special_ids": loaded.special_ids,
        "fsq_levels": config.get("fsq", {}).get("levels"),
        "max_chunk_bytes": config.get("max_chunk_bytes"),
        "versions": config.get("versions"),
        "git_rev": meta.get("git_rev"),
        "metrics": meta.get("codebook", {}).get("val"),
    }
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def validate(tokenizer: Path = TOKENIZER_OPTION) -> None:
    """Check specials, id range and lossless round trips on a fixed battery of inputs."""
    from fsqtok.store.bundle import BundleError, verify_bundle
    from fsqtok.tokenizers.base import validate as run_validation
    from fsqtok.tokenizers.loading import load_tokenizer

    with user_errors():
        report = run_validation(load_tokenizer(tokenizer))
    if tokenizer.is_dir():
        try:
            verify_bundle(tokenizer)  # every file against its checksum, the weights' values too
        except BundleError as err:
            report["ok"] = False
            report["problems"].append(str(err))
    typer.echo(json.dumps(report, indent=2))
    if not report["ok"]:
        raise typer.Exit(1)


@app.command("export-hf")
def export_hf(
    tokenizer: Path = TOKENIZER_OPTION,
    out: Path = typer.Option(..., "--out", help="folder for tokenizer.json, tokenizer_config.json, "
                             "special_tokens_map.json"),
) -> None:
    """An fsqtok tokenizer as Hugging Face files: `tokenizers` and `transformers` give its exact ids."""
    from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer
    from fsqtok.tokenizers.hf import export_hf as write_export

    with user_errors():
        write_export(AutoEncoderTokenizer.load(tokenizer), out)
    typer.echo(f"wrote {out / 'tokenizer.json'} (load it with tokenizers.Tokenizer.from_file or "
               f"transformers.AutoTokenizer.from_pretrained({str(out)!r}))")


@app.command()
def compare(
    a: Path = typer.Argument(..., help="first metrics JSON"),
    b: Path = typer.Argument(..., help="second metrics JSON"),
    report: Path = typer.Option(Path("compare.html"), "--report", help="HTML file to write"),
) -> None:
    """Every numeric metric of two metrics files side by side, as a self-contained HTML page."""
    from fsqtok.report.html import comparison_report
    from fsqtok.store.files import read_json

    with user_errors():
        first, second = read_json(a), read_json(b)
        if not set(numeric_keys(first)) & set(numeric_keys(second)):
            raise FsqtokError(f"{a} and {b} share no metric: compare two files of one report, e.g. "
                              f"reports/evaluate/metrics.json of two runs")
        html = comparison_report(first, second, a.name, b.name)
    report.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {report}")


def numeric_keys(metrics: dict) -> list[str]:
    """Dotted names of the numbers in a metrics file.
    Example: {"a": {"b": 1, "c": "x"}, "d": 2.5} -> ["a.b", "d"]"""
    from fsqtok.store.tracking import flatten

    return [k for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]


@app.command()
def generate(
    lm: Path = typer.Option(Path("models/lm/fsqtok"), "--lm", help="LM bundle folder"),
    prompt: str = typer.Option("In the beginning", "--prompt"),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", "-t",
                                             help="tokenizer bundle; default: the pipeline's one the LM names"),
    max_tokens: int = typer.Option(64, "--max-tokens"),
    temperature: float = typer.Option(0.8),
    top_k: int = typer.Option(50, "--top-k"),
    top_p: float = typer.Option(0.95, "--top-p"),
    seed: int = typer.Option(0),
) -> None:
    """Sample a continuation of --prompt from a trained LM."""
    from fsqtok.lm.io import load_lm
    from fsqtok.lm.sample import generate as sample
    from fsqtok.store.bundle import read_json_file
    from fsqtok.tokenizers.base import EOS_ID
    from fsqtok.tokenizers.loading import load_tokenizer, tokenizer_paths

    with user_errors():
        if tokenizer is None:
            name = read_json_file(lm / "config.json").get("tokenizer", {}).get("name", "byte")
            tok = load_tokenizer(tokenizer_paths(TOKENIZER_DIR, BASELINES_DIR)[name])
        else:
            tok = load_tokenizer(tokenizer)
        model = load_lm(lm, tok)
        ids = sample(model, tok.encode(prompt, add_bos=True), max_tokens, EOS_ID, temperature, top_k, top_p, seed)
    typer.echo(prompt + tok.decode(ids))


@app.command()
def bench(
    split: Path = typer.Option(Path("data/split/val.parquet"), help="text to time (a parquet with a text column)"),
    out: Path = typer.Option(Path("reports/bench/metrics.json")),
    max_bytes: int = typer.Option(500_000, help="bytes of text timed"),
    repeats: int = typer.Option(15, help="timings are medians over this many runs"),
    tokenizer: Path = typer.Option(TOKENIZER_DIR, "--tokenizer", "-t", help="fsqtok tokenizer bundle"),
    baselines: Path = typer.Option(BASELINES_DIR, help="folder of the bpe and word baseline bundles"),
    large_bytes: int = typer.Option(100_000_000, help="input size whose encode's peak memory is measured"),
) -> None:
    """Cold, warm and batch speed, memory and cold start of every tokenizer (baseline.extra's
    too) next to tiktoken (same ranks as the BPE) and fsqtok's HF export, in one process; the
    auto-encoder trains with params.yaml's pretrain settings."""
    from fsqtok.config import load_params
    from fsqtok.eval.bench import markdown_table, run_bench
    from fsqtok.eval.suite import speed_documents
    from fsqtok.store.files import read_texts, write_json
    from fsqtok.tokenizers.loading import tokenizer_paths

    with user_errors():
        params = load_params()
        documents = speed_documents(read_texts(split), max_bytes)
        report = run_bench(tokenizer_paths(tokenizer, baselines, params.baseline.extra), documents, repeats, params,
                           large_bytes)
    write_json(out, report)
    typer.echo(markdown_table(report))
    typer.echo(f"wrote {out}; `fsqtok readme` puts the table into README.md")


@app.command("bench-scale")
def bench_scale(
    factors: list[int] = typer.Option([1, 4, 16], "--factor", help="multiples of the configured corpus (repeatable)"),
    work: Path = typer.Option(Path("data/scale"), help="scratch folder for the scaled corpora (deleted after)"),
    tokenizer: Path = typer.Option(TOKENIZER_DIR, "--tokenizer", "-t", help="the tokenizer that encodes train"),
    out: Path = typer.Option(Path("reports/bench"), help="folder for scale.csv, scale.json and scale.png"),
) -> None:
    """Time and peak memory of corpus prep, split, candidate counting, selection and tokenising
    train at several corpus sizes (params.yaml's corpus, plus perturbed copies), each in a fresh
    process."""
    import shutil

    from fsqtok.eval.scale import STEPS
    from fsqtok.eval.scale import bench_scale as run_scale
    from fsqtok.report.plots import plot_scale

    with user_errors():
        try:
            report = run_scale(sorted(set(factors)), work, tokenizer, out, progress=typer.echo)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    plot_scale(report["rows"], STEPS, out / "scale.png")
    for step in STEPS:
        typer.echo(f"{step:<9} time ~ size^{report['time_exponent'][step]:.2f}, "
                   f"peak memory ~ size^{report['memory_exponent'][step]:.2f}")
    typer.echo(f"wrote {out / 'scale.csv'}, {out / 'scale.json'}, {out / 'scale.png'}")


@app.command("ui-url")
def ui_url(port: int = typer.Option(5000, help="the port `mlflow ui` listens on")) -> None:
    """The link that opens the experiment's runs table with the headline columns in `mlflow ui`."""
    from fsqtok.config import load_params
    from fsqtok.report.mlflow_view import ui_url as link
    from fsqtok.store.tracking import open_store

    with user_errors():
        params = load_params()
        client, _, _ = open_store(params.tracking, find_parent=False)
        typer.echo(link(client, params.tracking.experiment, port))


@app.command()
def readme(
    path: Path = typer.Option(Path("README.md"), "--readme", help="README whose generated tables are rewritten"),
    reports: Path = typer.Option(Path("reports"), help="the pipeline's reports folder"),
) -> None:
    """Rewrite the README's result tables (between their <!-- name:start/end --> markers) from reports/."""
    from fsqtok.report.readme import update_readme

    with user_errors():
        changed = update_readme(path, reports)
    typer.echo(f"{path}: tables {'rewritten' if changed else 'already match reports/'}")


flow_app = typer.Typer(no_args_is_help=True, help="The latent flow generator: encode, reconstruct, generate.")
app.add_typer(flow_app, name="flow")
FLOW_OPTION = typer.Option(Path("models/flow"), "--model", help="flow bundle folder")
FLOW_TOKENIZER_OPTION = typer.Option(None, "--tokenizer", "-t", help="tokenizer bundle; default: the one the "
                                     "flow model was trained on")


def text_latents(tokenizer, data: bytes):
    """Text -> (chunks, FSQ code indices (N,)) through the frozen encoder."""
    from fsqtok.autoencoder.infer import encode_chunks
    from fsqtok.text.chunking import chunk_bytes

    chunks = chunk_bytes(data, tokenizer.max_chunk_bytes)
    return chunks, encode_chunks(tokenizer.model, chunks)


@flow_app.command("encode")
def flow_encode(path: Path | None = INPUT_ARGUMENT, out: Path = typer.Option(..., "--out", help="latents file"),
                model: Path = FLOW_OPTION, tokenizer: Path | None = FLOW_TOKENIZER_OPTION) -> None:
    """Text -> the auto-encoder's chunk latents (8-dim code vectors) in a safetensors file."""
    from safetensors.torch import save

    from fsqtok.flow.io import load_flow
    from fsqtok.store.files import atomic_write_bytes

    with user_errors():
        _, _, tok = load_flow(model, tokenizer)
        _, indices = text_latents(tok, read_input(path))
    atomic_write_bytes(out, save({"codes": tok.model.fsq.indices_to_codes(indices), "indices": indices}))
    typer.echo(f"wrote {len(indices)} latents to {out}")


@flow_app.command("reconstruct")
def flow_reconstruct(path: Path | None = INPUT_ARGUMENT, model: Path = FLOW_OPTION,
                     tokenizer: Path | None = FLOW_TOKENIZER_OPTION,
                     snap_to: str = typer.Option("grid", "--snap", help="grid | vocab")) -> None:
    """Text (or a latents file from `flow encode`) -> latents -> snap -> decoder -> text: the ceiling."""
    from fsqtok.flow.io import load_flow
    from fsqtok.flow.sample import snap, spell

    with user_errors():
        _, _, tok = load_flow(model, tokenizer)
        codes = read_latents(path) if path is not None and path.suffix == ".safetensors" else \
            tok.model.fsq.indices_to_codes(text_latents(tok, read_input(path))[1])
        indices = snap(codes, tok.model.fsq, check_snap(snap_to), tok.code_tensor())
    sys.stdout.buffer.write(spell(tok.model, indices.unsqueeze(0))[0])
    sys.stdout.buffer.flush()


@flow_app.command("generate")
def flow_generate(model: Path = FLOW_OPTION, tokenizer: Path | None = FLOW_TOKENIZER_OPTION,
                  chunks: int = typer.Option(64, "--chunks", help="chunks per sample"),
                  steps: int = typer.Option(50, "--steps", help="Euler steps"),
                  seed: int = typer.Option(0, "--seed"), samples: int = typer.Option(1, "--samples"),
                  snap_to: str = typer.Option("grid", "--snap", help="grid | vocab")) -> None:
    """Unconditional text from noise, one sample per line group; seeded and reproducible."""
    from fsqtok.flow.io import load_flow
    from fsqtok.flow.sample import generate as sample_flow

    with user_errors():
        flow, config, tok = load_flow(model, tokenizer)
        if not 0 < chunks <= flow.config.max_positions or steps < 1 or samples < 1:
            raise FsqtokError(f"--chunks must be in [1, {flow.config.max_positions}], --steps and --samples >= 1")
        texts = sample_flow(flow, tok.model, samples, chunks, steps, config.noise_std, seed, check_snap(snap_to),
                            tok.code_tensor())
    sys.stdout.buffer.write(b"\n\n".join(texts) + b"\n")
    sys.stdout.buffer.flush()


def check_snap(mode: str) -> str:
    if mode not in ("grid", "vocab"):
        raise FsqtokError(f"--snap must be grid or vocab, got {mode!r}")
    return mode


def read_latents(path: Path):
    from safetensors.torch import load_file

    try:
        return load_file(str(path))["codes"]
    except Exception as err:  # safetensors raises its own types; a missing key is a KeyError
        raise FsqtokError(f"{path}: not a latents file from `fsqtok flow encode` ({type(err).__name__})") from None


if __name__ == "__main__":
    app()
