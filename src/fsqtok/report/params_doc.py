"""The params reference (docs/params.md), generated from the config dataclasses: every key of
params.yaml with its type, default and the comment beside its field in config.py."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

from fsqtok.config import Params

FIELD_LINE = re.compile(r"^\s+(\w+): [^#]*?(?:#\s*(.*))?$")


def field_comments(cls: type) -> dict[str, str]:
    """{field: its end-of-line comment}, over the class and its bases (a base's comment serves a
    subclass that only restates the default).
    Example: `lr: float = 2e-3  # peak AdamW learning rate` -> {"lr": "peak AdamW learning rate"};
    a `|` in a comment is escaped for the Markdown table."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        above = ""  # a comment on the line before a field serves it when the field has none
        for line in inspect.getsource(klass).splitlines():
            match = FIELD_LINE.match(line)
            if match and (match.group(2) or above):
                comments[match.group(1)] = (match.group(2) or above).strip().replace("|", "\\|")
            above = line.strip()[1:] if line.strip().startswith("#") else ""
    return comments


def type_name(tp: object) -> str:
    """Example: Literal["ar", "mlp"] -> "ar | mlp"; list[int] -> "list of int" """
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " \\| ".join(map(str, typing.get_args(tp)))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def default_text(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
        if dataclasses.is_dataclass(value) or (isinstance(value, list) and value
                                                and dataclasses.is_dataclass(value[0])):
            return "see below"
    else:
        return "required"
    return f"`{value!r}`" if not isinstance(value, bool) else f"`{str(value).lower()}`"


def section_rows(cls: type, prefix: str) -> list[str]:
    hints, comments = typing.get_type_hints(cls), field_comments(cls)
    return [f"| `{prefix}{f.name}` | {type_name(hints[f.name])} | {default_text(f)} | {comments.get(f.name, '')} |"
            for f in dataclasses.fields(cls)]


def params_reference() -> str:
    """The whole page: top-level keys, then one table per section (corpus sources included)."""
    from fsqtok.config import SourceConfig

    lines = ["# Params reference", "",
             "Every key of `params.yaml`, generated from `src/fsqtok/config.py` (`fsqtok.report.params_doc`;",
             "the docs build regenerates this page). A wrong type, an unknown key or an out-of-range value",
             "fails with one line that names the key. Which stage reads which key: each stage's `PARAMS`",
             "in `src/fsqtok/stages/`, mirrored by `dvc.yaml`.", ""]
    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    hints = typing.get_type_hints(Params)
    scalars = [f for f in dataclasses.fields(Params) if not dataclasses.is_dataclass(hints[f.name])]
    lines += ["## Top level", "", *header]
    lines += [row for row in section_rows(Params, "") if any(f"`{f.name}`" in row for f in scalars)]
    for field in dataclasses.fields(Params):
        if dataclasses.is_dataclass(hints[field.name]):
            lines += ["", f"## {field.name}", "", *header, *section_rows(hints[field.name], f"{field.name}.")]
            if field.name == "corpus":
                lines += ["", "Each entry of `corpus.sources`:", "", *header,
                          *section_rows(SourceConfig, "corpus.sources[].")]
    return "\n".join(lines) + "\n"
