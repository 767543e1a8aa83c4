import json

import pandas as pd
import pytest

from fsqtok.config import params_from_dict
from fsqtok.text.corpus import CorpusError, build_corpus
from fsqtok.text.split import assign_split, split_documents, unit_hash


def corpus_config(*sources, **limits):
    return params_from_dict({"corpus": {"sources": list(sources), **limits}}).corpus


def test_default_sources_are_read_from_packages():
    docs, stats = build_corpus(corpus_config({"kind": "kjv", "max_documents": 2},
                                             {"kind": "wikipedia_summaries", "max_documents": 3}))
    assert list(docs["source"]) == ["kjv"] * 2 + ["wikipedia_summaries:en-us"] * 3
    assert docs["doc_id"].iloc[0] == "kjv/Genesis/1"
    assert docs["text"].iloc[0].startswith("In the beginning God created the heaven and the earth.\n")
    assert stats.per_source["kjv"]["documents"] == 2
    assert stats.bytes == int(docs["n_bytes"].sum())


def test_text_files_kept_raw_invalid_utf8_counted(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"Hello  World\r\n\r\nSecond\tblock")
    (tmp_path / "b.txt").write_bytes(b"bad \xff byte")
    (tmp_path / "c.txt").write_bytes(b"  \n")
    docs, stats = build_corpus(corpus_config({"kind": "text_files", "path": str(tmp_path / "*.txt")}))
    assert list(docs["text"]) == ["Hello  World\r\n\r\nSecond\tblock", "bad \ufffd byte"]
    assert stats.invalid_utf8_replaced == 1
    assert stats.empty_dropped == 1
    docs, _ = build_corpus(corpus_config({"kind": "text_files", "path": str(tmp_path / "a.txt"), "per": "paragraph"}))
    assert list(docs["text"]) == ["Hello  World", "Second\tblock"]


def test_jsonl_parquet_and_limits(tmp_path):
    lines = [json.dumps({"body": f"doc {i}"}) for i in range(5)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines))
    pd.DataFrame({"body": ["x y", "z"]}).to_parquet(tmp_path / "d.parquet")
    config = corpus_config({"kind": "jsonl", "path": str(tmp_path / "d.jsonl"), "text_field": "body"},
                           {"kind": "parquet", "path": str(tmp_path / "d.parquet"), "text_field": "body"},
                           max_documents=6)
    docs, _ = build_corpus(config)
    assert list(docs["text"]) == ["doc 0", "doc 1", "doc 2", "doc 3", "doc 4", "x y"]
    docs, _ = build_corpus(corpus_config({"kind": "jsonl", "path": str(tmp_path / "d.jsonl"),
                                          "text_field": "body"}, max_bytes=12))
    assert list(docs["text"]) == ["doc 0", "doc 1"]


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(CorpusError, match=r"nothing\*\.txt: no file matches"):
        build_corpus(corpus_config({"kind": "text_files", "path": str(tmp_path / "nothing*.txt")}))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{broken\n')
    with pytest.raises(CorpusError, match="bad.jsonl: line 2 is not JSON"):
        build_corpus(corpus_config({"kind": "jsonl", "path": str(tmp_path / "bad.jsonl")}))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(CorpusError, match="bad.parquet: cannot read column"):
        build_corpus(corpus_config({"kind": "parquet", "path": str(tmp_path / "bad.parquet")}))


def test_hf_dataset_without_datasets_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(CorpusError, match="hf_dataset source needs the `datasets` package"):
        build_corpus(corpus_config({"kind": "hf_dataset", "name": "wikitext"}))


def test_split_is_deterministic_disjoint_and_seeded():
    docs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(2000)], "text": "x", "n_bytes": 1})
    config = params_from_dict({"split": {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 7}}).split
    parts = split_documents(docs, config)
    ids = [set(p["doc_id"]) for p in parts.values()]
    assert sum(map(len, ids)) == 2000 and len(set.union(*ids)) == 2000
    assert 150 < len(parts["val"]) < 250 and 330 < len(parts["test"]) < 470
    assert unit_hash("d5", 7) == 0.28425149006531836  # sha256("7:d5"), first 8 bytes / 2**64
    assert assign_split("d5", config) == "test"  # 0.1 <= 0.284 < 0.1 + 0.2
    assert unit_hash("d5", 7) != unit_hash("d5", 8)
    other = params_from_dict({"split": {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 8}}).split
    assert set(split_documents(docs, other)["val"]["doc_id"]) != ids[1]
