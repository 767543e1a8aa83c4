"""Every stage's DVC deps cover every fsqtok file its script imports, transitively (module level
and inside functions, package __init__ files included), so a library change re-runs it."""

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def module_file(name: str) -> Path | None:
    """fsqtok.a.b -> src/fsqtok/a/b.py or src/fsqtok/a/b/__init__.py (None for a non-module name)."""
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def lazy_face_nodes(tree: ast.Module) -> set[ast.AST]:
    """Nodes inside a module-level __getattr__ (the lazy package face): they run only when code
    asks the package itself for an attribute, which no stage does."""
    return {node for top in tree.body if isinstance(top, ast.FunctionDef) and top.name == "__getattr__"
            for node in ast.walk(top)}


def imported_modules(path: Path) -> set[str]:
    """fsqtok modules named by any import statement in the file, wherever it stands."""
    names = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in set(ast.walk(tree)) - lazy_face_nodes(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "fsqtok"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fsqtok":
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names
                      if module_file(f"{node.module}.{alias.name}")}  # `from fsqtok.x import module`
    return names


def imported_files(script: Path) -> set[Path]:
    """Every fsqtok source file that running `script` can import, with each package's __init__.py."""
    seen: set[Path] = set()
    pending = [script]
    while pending:
        for name in imported_modules(pending.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                found = module_file(".".join(parts[:i]))
                if found and found not in seen:
                    seen.add(found)
                    pending.append(found)
    return seen


def missing_deps(stage: str, spec: dict) -> list[str]:
    """'<stage>: <file> is imported but not a dep' for each file no dep covers."""
    deps = [ROOT / dep for dep in spec.get("deps", [])]
    script = ROOT / spec["cmd"].split()[1]
    return [f"{stage}: {file.relative_to(ROOT)} is imported but not a dep"
            for file in sorted(imported_files(script))
            if not any(file == dep or dep in file.parents for dep in deps)]


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_every_stage_lists_what_it_imports():
    problems = [line for stage, spec in stages().items() for line in missing_deps(stage, spec)]
    assert problems == []


def test_a_removed_dep_is_named():
    spec = dict(stages()["pretrain"])
    spec["deps"] = [dep for dep in spec["deps"] if dep != "src/fsqtok/runtime"]
    problems = missing_deps("pretrain", spec)
    assert "pretrain: src/fsqtok/runtime/optim.py is imported but not a dep" in problems
    assert "pretrain: src/fsqtok/runtime/__init__.py is imported but not a dep" in problems


def test_imports_inside_functions_are_followed():
    files = imported_files(ROOT / "pipeline/prune.py")  # the tokenizer loads its auto-encoder lazily
    assert SRC / "fsqtok/autoencoder/io.py" in files and SRC / "fsqtok/__init__.py" in files
