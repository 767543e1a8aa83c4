"""The one configuration: params.yaml -> typed, validated dataclasses.

Every key lives here with its default; a wrong type, an unknown key or an out-of-range value
raises ConfigError with one line that names the full key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml

from fsqtok.errors import FsqtokError

MAX_SEED = 2**32  # torch and the data order mix the seed into 64-bit generator seeds
EXTRA_TOKENIZERS = "extra_tokenizers"  # the folder of baseline.extra's files, a dep of the evaluate stage


class ConfigError(FsqtokError, ValueError):
    """A bad value in params.yaml; str() is one line naming the key."""


def _require(ok: bool, key: str, allowed: str, got: object) -> None:
    if not ok:
        raise ConfigError(f"{key}: must be {allowed}, got {got!r}")


Schedule = Literal["cosine", "linear"]  # the learning rate's decay after warmup (runtime.optim.lr_factor)
SourceKind = Literal["kjv", "wikipedia_summaries", "text_files", "jsonl", "parquet", "hf_dataset"]


@dataclass(frozen=True)
class SourceConfig:
    kind: SourceKind  # where documents come from
    lang: str = "en-us"  # wikipedia_summaries: en-us | fr-fr | es-es
    path: str = ""  # text_files: a glob; jsonl/parquet: a file
    text_field: str = "text"  # jsonl/parquet/hf_dataset: the column holding the text
    per: Literal["file", "paragraph"] = "file"  # text_files: one document per file or per blank-line block
    name: str = ""  # hf_dataset: dataset name
    config: str = ""  # hf_dataset: dataset config
    split: str = "train"  # hf_dataset: dataset split
    max_documents: int = 0  # 0 = all documents of this source

    def __post_init__(self) -> None:
        needs_path = self.kind in ("text_files", "jsonl", "parquet")
        _require(not needs_path or bool(self.path), "path", f"set for kind {self.kind}", self.path)
        _require(self.kind != "hf_dataset" or bool(self.name), "name", "set for hf_dataset", self.name)
        _require(self.max_documents >= 0, "max_documents", ">= 0", self.max_documents)


@dataclass(frozen=True)
class CorpusConfig:
    sources: list[SourceConfig] = field(
        default_factory=lambda: [SourceConfig("kjv"), SourceConfig("wikipedia_summaries")]
    )
    max_documents: int = 0  # 0 = no limit over all sources
    max_bytes: int = 0  # 0 = no limit; documents are taken in order until the budget is spent

    def __post_init__(self) -> None:
        _require(len(self.sources) > 0, "sources", "a non-empty list", self.sources)
        _require(self.max_documents >= 0, "max_documents", ">= 0", self.max_documents)
        _require(self.max_bytes >= 0, "max_bytes", ">= 0", self.max_bytes)


@dataclass(frozen=True)
class SplitConfig:
    val_fraction: float = 0.05  # share of documents in val
    test_fraction: float = 0.05  # share of documents in test
    seed: int = 0  # mixed into the doc_id hash; changing it reshuffles the split

    def __post_init__(self) -> None:
        _require(0 <= self.seed < MAX_SEED, "seed", f"in [0, {MAX_SEED})", self.seed)
        for key in ("val_fraction", "test_fraction"):
            value = getattr(self, key)
            _require(0 < value < 1, key, "in (0, 1)", value)
        total = self.val_fraction + self.test_fraction
        _require(total < 1, "test_fraction", "such that val + test < 1", total)


@dataclass(frozen=True)
class ChunkingConfig:
    max_chunk_bytes: int = 16  # longest chunk the auto-encoder sees (bytes)

    def __post_init__(self) -> None:
        _require(1 <= self.max_chunk_bytes <= 256, "max_chunk_bytes", "in [1, 256]", self.max_chunk_bytes)


@dataclass(frozen=True)
class AutoencoderConfig:
    d_byte: int = 64  # byte embedding width
    conv_channels: list[int] = field(default_factory=lambda: [128, 256, 256])  # encoder conv widths
    deconv_channels: list[int] = field(default_factory=lambda: [256, 128, 64])  # decoder widths
    kernel_size: int = 3  # every conv / deconv
    strides: list[int] = field(default_factory=lambda: [1, 2, 2])  # encoder strides; decoder mirrors
    d_latent: int = 256  # pooled latent width before the FSQ projection
    pooling: Literal["mean", "flatten"] = "flatten"  # mean discards byte order; flatten keeps it
    decoder: Literal["ar", "mlp", "deconv"] = "ar"  # ar: spells byte by byte; mlp: all at once; deconv: the seed's
    decoder_hidden: int = 1024  # width of the ar / mlp decoder's MLP
    ar_width: int = 128  # ar decoder: width per byte position
    ar_layers: int = 2  # ar decoder: causal convs (kernel 3, dilations 1, 2, ...): sees 2 (2^layers - 1) bytes back
    norm_scale: float = 2.0  # the unit-variance latent times this goes into FSQ: 2 uses the outer levels more

    def __post_init__(self) -> None:
        for key in ("d_byte", "d_latent", "kernel_size", "decoder_hidden", "ar_width", "ar_layers", "norm_scale"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))
        _require(len(self.conv_channels) > 0, "conv_channels", "a non-empty list", self.conv_channels)
        _require(
            len(self.strides) == len(self.conv_channels), "strides",
            f"one per conv layer ({len(self.conv_channels)})", self.strides,
        )
        _require(
            len(self.deconv_channels) == len(self.conv_channels), "deconv_channels",
            f"one per conv layer ({len(self.conv_channels)})", self.deconv_channels,
        )
        _require(all(s in (1, 2) for s in self.strides), "strides", "each 1 or 2", self.strides)
        _require(all(c > 0 for c in self.conv_channels + self.deconv_channels),
                 "conv_channels", "positive widths", self.conv_channels)


@dataclass(frozen=True)
class FSQConfig:
    levels: list[int] = field(default_factory=lambda: [8, 8, 8, 8, 8, 5, 5, 5])  # per-dim levels

    def __post_init__(self) -> None:
        _require(len(self.levels) > 0, "levels", "a non-empty list", self.levels)
        _require(all(lv >= 2 for lv in self.levels), "levels", "each >= 2", self.levels)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)


@dataclass(frozen=True)
class OptimConfig:
    """What the one training loop and its AdamW read. The training sections (pretrain, lm, flow)
    are this plus their own keys, and each states its defaults."""

    steps: int  # optimizer steps
    lr: float  # peak AdamW learning rate
    weight_decay: float  # on weight matrices only
    warmup_steps: int  # linear warmup, then `schedule` down to min_lr_ratio * lr at the last step
    min_lr_ratio: float
    schedule: Schedule  # the decay after warmup
    grad_clip: float  # max global grad norm (0 = off)
    eval_every: int  # steps between val evaluations (and at the last step)

    def __post_init__(self) -> None:
        for key in ("steps", "eval_every"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))
        _require(self.lr > 0, "lr", "> 0", self.lr)
        for key in ("weight_decay", "grad_clip", "warmup_steps"):
            _require(getattr(self, key) >= 0, key, ">= 0", getattr(self, key))
        _require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]", self.min_lr_ratio)


@dataclass(frozen=True)
class PretrainConfig(OptimConfig):
    steps: int = 2700
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.0
    schedule: Schedule = "linear"  # 2,700 steps, seeds 0-4: 92.71% byte accuracy, cosine 92.24%
    grad_clip: float = 1.0
    eval_every: int = 900
    batch_size: int = 256  # chunks per step
    norm_freeze: float = 0.1  # share of steps after which the norm before FSQ uses running statistics
    eval_chunks: int = 20000  # val chunk occurrences per evaluation
    checkpoint_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 3  # last K checkpoints kept (plus the best)
    threads: int = 0  # torch CPU threads; 0 = all cores
    join_rate: float = 0.05  # share of train segments that are runs of 2-3 pre-tokens
    split_rate: float = 0.05  # share of pre-tokens (>= 4 bytes) cut into two pieces
    lexicon_rate: float = 0.0  # share of each batch drawn from an English word list (0 = corpus only)
    lexicon_words: int = 10000  # the most frequent words of that list that are drawn from
    vocab_rate: float = 0.1  # share of each batch drawn from the fsqtok_noae pieces: the strings the vocabulary needs
    repeat_cap: int = 100  # after repeat_cap_after of the steps, each chunk at most this many times per pass (0 = off)
    repeat_cap_after: float = 0.1  # share of the steps drawn by plain occurrence first

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("batch_size", "checkpoint_every", "keep_checkpoints", "eval_chunks", "lexicon_words"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))
        _require(self.threads >= 0, "threads", ">= 0", self.threads)
        _require(self.repeat_cap >= 0, "repeat_cap", ">= 0 (0 = off)", self.repeat_cap)
        for key in ("norm_freeze", "repeat_cap_after"):
            _require(0 <= getattr(self, key) <= 1, key, "in [0, 1]", getattr(self, key))
        for key in ("join_rate", "split_rate"):
            _require(0 <= getattr(self, key) <= 0.5, key, "in [0, 0.5]", getattr(self, key))
        for key in ("lexicon_rate", "vocab_rate"):
            _require(0 <= getattr(self, key) <= 0.5, key, "in [0, 0.5]", getattr(self, key))


@dataclass(frozen=True)
class PruneConfig:
    vocab_size: int = 4096  # all ids: 3 specials + 256 bytes + learned chunks
    max_candidates: int = 200000  # most frequent candidate strings sent through the encoder
    batch_size: int = 1024  # chunks per encoder batch (1,024 keeps activations in cache: 1.2-1.5x faster than 4,096)
    pool_size: int = 200000  # candidates (most bytes saved first; fsqtok: the verified ones) the selection shrinks
    shrink_keep: float = 0.95  # share of the pieces kept per round of shrinking, the ones whose removal costs most
    sample_bytes: int = 2_000_000  # train text encoded per round

    def __post_init__(self) -> None:
        _require(self.vocab_size > 259, "vocab_size", "> 259 (3 specials + 256 bytes)", self.vocab_size)
        _require(self.pool_size > 0, "pool_size", "> 0", self.pool_size)
        _require(0 < self.shrink_keep < 1, "shrink_keep", "in (0, 1)", self.shrink_keep)
        _require(self.sample_bytes > 0, "sample_bytes", "> 0", self.sample_bytes)
        _require(self.max_candidates > 0, "max_candidates", "> 0", self.max_candidates)
        _require(self.batch_size > 0, "batch_size", "> 0", self.batch_size)


@dataclass(frozen=True)
class BaselineConfig:
    # multiword: share of prune.vocab_size learned by BPE inside pre-tokens (stage 1); stage 2
    # merges across pre-tokens for the rest
    multiword_stage1_share: float = 0.75
    multiword_max_pretokens: int = 3  # pre-tokens one multiword piece may span (fsqtok's joins: 3)
    # your own baselines: HF tokenizer.json files under EXTRA_TOKENIZERS (DVC watches that folder),
    # each in evaluate's tables under its file's stem
    extra: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _require(0 < self.multiword_stage1_share < 1, "multiword_stage1_share", "in (0, 1)",
                 self.multiword_stage1_share)
        _require(self.multiword_max_pretokens >= 1, "multiword_max_pretokens", ">= 1", self.multiword_max_pretokens)
        stems = [PurePosixPath(path).stem for path in self.extra]
        for path in self.extra:
            inside = PurePosixPath(path).parts[:1] == (EXTRA_TOKENIZERS,) and path.endswith(".json")
            _require(inside, "extra", f"paths of .json files under {EXTRA_TOKENIZERS}/ (the folder DVC watches)", path)
        for stem in stems:
            _require(stem not in typing.get_args(TokenizerName) and stems.count(stem) == 1, "extra",
                     "files whose stems differ from each other and from the built-in tokenizer names", stem)


@dataclass(frozen=True)
class EvaluateConfig:
    max_chunks: int = 50000  # val/test chunk occurrences for reconstruction metrics
    speed_bytes: int = 500000  # bytes of val text timed for encode/decode MB/s
    speed_repeats: int = 3  # timings are medians over this many runs

    def __post_init__(self) -> None:
        for key in ("max_chunks", "speed_bytes", "speed_repeats"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))


TokenizerName = Literal["fsqtok", "fsqtok_noae", "bpe", "multiword", "unigram", "word", "byte"]


@dataclass(frozen=True)
class LMConfig(OptimConfig):
    steps: int = 200
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    schedule: Schedule = "cosine"
    grad_clip: float = 1.0
    eval_every: int = 50  # each evaluation scores all max_val_bytes
    tokenizers: list[TokenizerName] = field(default_factory=lambda: ["fsqtok", "bpe", "multiword", "byte"])
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    context_tokens: int = 128  # sequence length in tokens, the same for every tokenizer
    batch_size: int = 16  # sequences per step
    max_val_bytes: int = 200000  # UTF-8 bytes of val documents every tokenizer is scored on
    init_from_codes: bool = True  # fsqtok embeddings start from the auto-encoder's code vectors
    seeds: int = 1  # LMs per tokenizer (seeds seed, seed+1, ...); val_bpb is their mean
    sample_tokens: int = 64  # tokens generated per sample
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    prompts: list[str] = field(default_factory=lambda: ["In the beginning", "The city of"])  # sampled per LM

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(len(self.tokenizers) > 0, "tokenizers", "a non-empty list", self.tokenizers)
        _require(len(set(self.tokenizers)) == len(self.tokenizers), "tokenizers", "a list without repeats",
                 self.tokenizers)
        for key in ("n_layer", "n_head", "d_model", "context_tokens", "batch_size", "max_val_bytes",
                    "sample_tokens", "top_k", "seeds"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))
        _require(self.d_model % self.n_head == 0, "d_model", f"divisible by n_head={self.n_head}", self.d_model)
        _require(self.temperature > 0, "temperature", "> 0", self.temperature)
        _require(0 < self.top_p <= 1, "top_p", "in (0, 1]", self.top_p)


@dataclass(frozen=True)
class FlowConfig(OptimConfig):
    steps: int = 800
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    schedule: Schedule = "cosine"
    grad_clip: float = 1.0
    eval_every: int = 200
    seq_chunks: int = 64  # chunk latents per training window (a document is cut into windows)
    d_model: int = 128  # transformer width
    n_layer: int = 2
    n_head: int = 4
    batch_size: int = 32  # windows per step
    noise_std: float = 1.0  # sigma of the noise x0 ~ N(0, sigma^2) the flow starts from
    ce_weight: float = 0.1  # weight of the frozen decoder's byte cross-entropy next to the latent MSE
    ce_positions: int = 256  # latents per step whose bytes the decoder spells for that loss (its cost)
    max_train_bytes: int = 2_000_000  # UTF-8 bytes of train documents (every other one) turned into latents
    max_val_bytes: int = 200_000  # UTF-8 bytes of val documents for the val loss and the ceiling
    checkpoint_every: int = 200  # steps between checkpoints
    keep_checkpoints: int = 2
    sample_steps: int = 50  # Euler steps from noise to latents
    snap: Literal["grid", "vocab"] = "grid"  # generated latents snap to the FSQ grid or the nearest vocabulary code
    step_counts: list[int] = field(default_factory=lambda: [10, 50])  # Euler steps compared for the flow

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("seq_chunks", "d_model", "n_layer", "n_head", "batch_size", "max_train_bytes",
                    "checkpoint_every", "keep_checkpoints", "sample_steps", "ce_positions", "max_val_bytes"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))
        _require(self.d_model % self.n_head == 0, "d_model", f"divisible by n_head={self.n_head}", self.d_model)
        _require(self.noise_std > 0, "noise_std", "> 0", self.noise_std)
        _require(self.ce_weight >= 0, "ce_weight", ">= 0", self.ce_weight)
        _require(len(self.step_counts) > 0 and all(s > 0 for s in self.step_counts), "step_counts",
                 "a non-empty list of positive integers", self.step_counts)


@dataclass(frozen=True)
class JudgeConfig:
    """The one judge of every generator's samples (integrate's LMs, flow): an interpolated
    Kneser-Ney byte n-gram model of the odd train documents (the flow learns from the even ones).
    An LM's judge_bpb scores samples of its own distribution (temperature 1, no top-k or top-p):
    a top-k over tokens keeps a different share of the text's continuations for each vocabulary."""

    order: int = 5  # n-gram order
    train_bytes: int = 1_000_000  # UTF-8 bytes of train documents it learns from
    samples: int = 16  # unconditional samples per generator and setting (each LM: untruncated, at lm.temperature)
    sample_bytes: int = 200  # UTF-8 bytes per sample, the same for every generator

    def __post_init__(self) -> None:
        for key in ("order", "train_bytes", "samples", "sample_bytes"):
            _require(getattr(self, key) > 0, key, "> 0", getattr(self, key))


@dataclass(frozen=True)
class DistributedConfig:
    nproc_per_node: int = 1  # > 1: pretrain, integrate and flow re-launch under torchrun (DDP) with this many processes

    def __post_init__(self) -> None:
        _require(self.nproc_per_node >= 1, "nproc_per_node", ">= 1", self.nproc_per_node)


@dataclass(frozen=True)
class TrackingConfig:
    enabled: bool = True  # false: stages log nothing to MLflow (tests)
    experiment: str = "fsqtok"  # MLflow experiment name
    uri: str = ""  # empty: $MLFLOW_TRACKING_URI, else sqlite:///<repo>/mlflow.db


@dataclass(frozen=True)
class Params:
    seed: int = 0  # model init and data order
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    # auto: bf16 autocast on CUDA and on CPUs with native bf16 (avx512_bf16 / amx_bf16), else fp32
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    fsq: FSQConfig = field(default_factory=FSQConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        _require(0 <= self.seed < MAX_SEED, "seed", f"in [0, {MAX_SEED})", self.seed)
        stride_product = math.prod(self.autoencoder.strides)
        _require(
            self.chunking.max_chunk_bytes % stride_product == 0, "chunking.max_chunk_bytes",
            f"a multiple of the product of autoencoder.strides ({stride_product})",
            self.chunking.max_chunk_bytes,
        )

    declared: typing.ClassVar[tuple[str, ...]] = ()  # set by only(): the keys a stage may read

    def section(self, key: str) -> object:
        """A section, a top-level key or a dotted key ("prune.vocab_size") as plain data, for
        logging and hashing."""
        value = self
        for part in key.split("."):
            value = getattr(value, part)
        if isinstance(value, Undeclared):
            value._refuse()  # json or asdict would fail on it with a message that names nothing
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value

    def digest(self, *keys: str) -> str:
        """Short hash of the named keys: tells runs with the same settings apart from others."""
        blob = json.dumps({key: self.section(key) for key in keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def only(self, keys: tuple[str, ...], owner: str) -> Params:
        """These params as stage `owner` may read them: every key outside `keys` (a section,
        "seed", or one field such as "prune.vocab_size") is an Undeclared stand-in, so reading it
        fails in the tests instead of leaving DVC blind to it. `keys` is the stage's PARAMS,
        the one list that dvc.yaml's `params:` must equal."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = [key for key in keys if key.split(".")[0] not in names]
        if unknown:
            raise ValueError(f"{owner}: PARAMS names keys params.yaml does not have: {unknown}")
        return _restricted(self, keys, "", owner)


class UndeclaredParamError(RuntimeError):
    """A stage read a params key it does not declare (a bug in the stage, not in params.yaml)."""


class Undeclared:
    """Stands for a params key a stage did not declare: any use of it raises, naming the key."""

    def __init__(self, key: str, owner: str) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "owner", owner)

    def _refuse(self, *args: object) -> typing.NoReturn:
        raise UndeclaredParamError(f"{self.owner} reads params key {self.key!r}, which its PARAMS do not "
                                   f"declare: add it there and to the stage's params in dvc.yaml")

    def __repr__(self) -> str:
        return f"<undeclared {self.key}>"


for _use in ("__getattr__", "__setattr__", "__bool__", "__int__", "__float__", "__index__", "__eq__", "__ne__",
             "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__iter__", "__len__", "__contains__",
             "__getitem__", "__str__", "__format__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
             "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__neg__"):
    setattr(Undeclared, _use, Undeclared._refuse)


def _restricted(config: object, keys: tuple[str, ...], prefix: str, owner: str) -> object:
    """A copy of dataclass `config` (at dotted `prefix`) holding the fields `keys` name, whole
    or in part, and Undeclared stand-ins for the rest; built without __post_init__, whose checks
    would read the stand-ins."""
    view = object.__new__(type(config))
    for f in dataclasses.fields(config):
        key = f"{prefix}{f.name}"
        inner = [k for k in keys if k.startswith(key + ".")]
        value = getattr(config, f.name)
        if key not in keys:
            value = _restricted(value, tuple(inner), key + ".", owner) if inner else Undeclared(key, owner)
        object.__setattr__(view, f.name, value)
    if not prefix:
        object.__setattr__(view, "declared", tuple(keys))
    return view


def _type_name(tp: object) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(tp: object, value: object, key: str) -> object:
    """Check `value` against the annotation `tp` and build nested dataclasses."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        _require(value in allowed, key, "one of " + ", ".join(map(str, allowed)), value)
        return value
    if origin is list:
        _require(isinstance(value, list), key, "a list", value)
        (item_tp,) = typing.get_args(tp)
        return [_convert(item_tp, item, f"{key}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        _require(isinstance(value, dict), key, "a mapping", value)
        return build_section(tp, value, key)
    if tp is float:
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), key, "a number", value)
        _require(math.isfinite(value), key, "a finite number", value)
        return float(value)
    if tp is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), key, "a whole number", value)
        return value
    _expect(isinstance(value, tp), key, TYPE_WORDS.get(tp, f"a {_type_name(tp)}"), value)  # str, bool
    return value


TYPE_WORDS = {str: "text", bool: "true or false"}


def _expect(ok: bool, key: str, expected: str, value: object) -> None:
    """A value of the wrong kind: say what YAML read and what the key takes.
    Example: _expect(False, "pretrain.lr", "a number", "fast")
    -> ConfigError("pretrain.lr: expected a number, read the text 'fast'")"""
    if not ok:
        raise ConfigError(f"{key}: expected {expected}, read {_describe(value)}")


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "an empty value"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, int):
        return f"the whole number {value}"
    kind = {list: "the list", dict: "the mapping"}.get(type(value), f"a {type(value).__name__}")
    return f"{kind} {value!r}"


def build_section(cls: type, data: dict, prefix: str = "") -> object:
    """Validate one mapping into dataclass `cls`; errors name keys under `prefix`."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            full = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"{full}: unknown key; allowed: {', '.join(names)}")
    kwargs = {}
    for name, value in data.items():
        full = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(hints[name], value, full)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{prefix}.{err}" if prefix else str(err)) from None
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{prefix or 'params'}: {err}") from None


def params_from_dict(data: dict | None) -> Params:
    """Validate a params mapping (as read from YAML) into Params."""
    return build_section(Params, data or {})  # type: ignore[return-value]


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load that rejects a key given twice in one mapping (YAML would keep the last,
    so a second `corpus:` would silently replace the first) and reads numbers as YAML 1.2 does:
    `3e-4` and `1e3` are floats, not the strings PyYAML's YAML 1.1 rules make of them."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{key}: given twice (line {key_node.start_mark.line + 1}); keep one")
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.2's float forms that YAML 1.1 lacks: an exponent without a dot (3e-4, 1E+3). Added after
# the built-in resolvers, so integers (1_000, 42) still resolve as integers first.
UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def read_yaml(path: Path) -> object:
    """A YAML file read with the rules of params.yaml (numbers as meant, no repeated keys)."""
    try:
        return yaml.load(path.read_text(), Loader=UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read params.yaml from the *current* directory by default.

    Stages must not read $DVC_ROOT/params.yaml: under `dvc exp run --temp` the working copy
    holds the experiment's values and DVC_ROOT the parent's.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found; run from the repository root or pass the params file")
    data = read_yaml(path)
    _require(data is None or isinstance(data, dict), str(path), "a mapping of sections", type(data).__name__)
    return params_from_dict(data)
