"""The README and the docs tell the truth: the README is short and its tables are what
reports/ renders; the params reference is what the config code generates."""

import dataclasses
import json
import typing

from conftest import ROOT
from fsqtok.config import Params
from fsqtok.report.params_doc import params_reference
from fsqtok.report.readme import TABLES, render


def test_readme_is_short_and_leads_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    commands = [line.split("#")[0].strip() for line in lines[:20] if line.startswith("make ")]
    assert commands == ["make repro", "make test"]


def test_readme_tables_are_the_reports():
    readme = (ROOT / "README.md").read_text()
    for name in TABLES:
        assert f"<!-- {name}:start -->" in readme and f"<!-- {name}:end -->" in readme, name
    assert render(readme, ROOT / "reports") == readme, "README tables differ from reports/: run `fsqtok readme`"


def test_readme_table_changes_with_the_reports(tmp_path):
    import shutil

    shutil.copytree(ROOT / "reports", tmp_path / "reports")
    headline = tmp_path / "reports/headline.json"
    headline.write_text(json.dumps({**json.loads(headline.read_text()), "tok/vs_bpe": 9.875}))
    readme = (ROOT / "README.md").read_text()
    assert "| fsqtok bytes/token vs BPE (val) | 9.875× |" in render(readme, tmp_path / "reports")


def test_params_reference_is_generated_and_complete():
    page = (ROOT / "docs/params.md").read_text()
    assert page == params_reference(), "docs/params.md is stale: `mkdocs build` regenerates it"
    hints = typing.get_type_hints(Params)
    for section in (f for f in dataclasses.fields(Params) if dataclasses.is_dataclass(hints[f.name])):
        for field in dataclasses.fields(hints[section.name]):
            assert f"| `{section.name}.{field.name}` |" in page
    assert "| `pretrain.lr` | float | `0.002` | peak AdamW learning rate |" in page
