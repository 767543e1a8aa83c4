"""MkDocs hook: regenerate docs/params.md from the config code before every build, so the
params reference cannot drift from `src/fsqtok/config.py`."""

from pathlib import Path

from fsqtok.report.params_doc import params_reference


def on_pre_build(config, **kwargs) -> None:
    page = Path(config["docs_dir"]) / "params.md"
    text = params_reference()
    if not page.exists() or page.read_text() != text:
        page.write_text(text)
