"""Every stage's DVC deps cover every fsqtok file its script imports, transitively (module level
and inside functions, package __init__ files included), so a library change re-runs it, and no
more; its params equal the PARAMS it reads through."""

import ast
import importlib.util
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


def extra_deps(stage: str, spec: dict) -> list[str]:
    """'<stage>: <dep> is a dep but nothing in it is imported' for each src/fsqtok dep that covers
    no imported file (it would re-run the stage for code it never runs)."""
    imported = imported_files(ROOT / spec["cmd"].split()[1])
    return [f"{stage}: {dep} is a dep but nothing in it is imported" for dep in spec.get("deps", [])
            if dep.startswith("src/fsqtok/") and Path(dep).suffix != ".json"
            and not any(file == ROOT / dep or ROOT / dep in file.parents for file in imported)]


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_every_stage_lists_what_it_imports():
    problems = [line for stage, spec in stages().items() for line in missing_deps(stage, spec)]
    assert problems == []


def test_no_stage_lists_code_it_does_not_import():
    problems = [line for stage, spec in stages().items() for line in extra_deps(stage, spec)]
    assert problems == []


def test_an_extra_dep_is_named():
    spec = dict(stages()["split"])
    spec["deps"] = [*spec["deps"], "src/fsqtok/lm", "src/fsqtok/stages/flow.py"]
    assert extra_deps("split", spec) == ["split: src/fsqtok/lm is a dep but nothing in it is imported",
                                         "split: src/fsqtok/stages/flow.py is a dep but nothing in it is imported"]


def test_a_removed_dep_is_named():
    spec = dict(stages()["pretrain"])
    spec["deps"] = [dep for dep in spec["deps"] if dep != "src/fsqtok/runtime"]
    problems = missing_deps("pretrain", spec)
    assert "pretrain: src/fsqtok/runtime/optim.py is imported but not a dep" in problems
    assert "pretrain: src/fsqtok/runtime/__init__.py is imported but not a dep" in problems


def test_imports_inside_functions_are_followed():
    files = imported_files(ROOT / "pipeline/prune.py")  # the tokenizer loads its auto-encoder lazily
    assert SRC / "fsqtok/autoencoder/io.py" in files and SRC / "fsqtok/__init__.py" in files


def declared_params(spec: dict) -> tuple[str, ...]:
    """The PARAMS a stage's script reads its params through (`load_params().only(PARAMS, ...)`)."""
    script = ROOT / spec["cmd"].split()[1]
    module_spec = importlib.util.spec_from_file_location(f"stage_{script.stem}", script)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert ".only(PARAMS," in script.read_text(), f"{script.name} must read params through .only(PARAMS, ...)"
    return module.PARAMS


def params_mismatch(stage: str, spec: dict) -> list[str]:
    """'<stage>: <key> ...' for each key dvc.yaml lists without the stage declaring it, or the other way."""
    listed, declared = spec.get("params", []), declared_params(spec)
    return ([f"{stage}: dvc.yaml lists {key}, which PARAMS does not declare" for key in listed
             if key not in declared] +
            [f"{stage}: PARAMS declares {key}, which dvc.yaml does not list" for key in declared if key not in listed])


def test_dvc_params_equal_each_stage_declaration():
    problems = [line for stage, spec in stages().items() for line in params_mismatch(stage, spec)]
    assert problems == []


def test_a_wrong_params_list_is_named():
    spec = dict(stages()["baseline_eval"])
    spec["params"] = [key for key in spec["params"] if key != "evaluate"] + ["prune"]
    assert params_mismatch("baseline_eval", spec) == [
        "baseline_eval: dvc.yaml lists prune, which PARAMS does not declare",
        "baseline_eval: PARAMS declares evaluate, which dvc.yaml does not list"]
