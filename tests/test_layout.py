"""The house rules of the layout (see STYLE.md): the stages orchestrate, everything below them
computes. No library module imports a stage; nothing below the stages draws reports."""

import ast

from test_dvc_deps import SRC, imported_modules

PACKAGE = SRC / "fsqtok"
LIBRARY = ("text", "autoencoder", "tokenizers", "lm", "flow", "runtime", "store", "eval")  # below stages/


def third_party_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    return names | {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level}


def library_files():
    return sorted(path for package in LIBRARY for path in (PACKAGE / package).rglob("*.py"))


def test_no_library_module_imports_a_stage_or_report_code():
    problems = [f"{path.relative_to(SRC)} imports {name}" for path in library_files()
                for name in sorted(imported_modules(path))
                if name.startswith(("fsqtok.stages", "fsqtok.report", "fsqtok.cli"))]
    problems += [f"{path.relative_to(SRC)} imports matplotlib" for path in library_files()
                 if "matplotlib" in third_party_imports(path)]
    assert problems == []


def test_report_code_imports_no_stage():
    problems = [f"{path.relative_to(SRC)} imports {name}" for path in sorted((PACKAGE / "report").rglob("*.py"))
                for name in sorted(imported_modules(path)) if name.startswith("fsqtok.stages")]
    assert problems == []


def test_every_stage_has_one_module_with_its_params_and_runner():
    import importlib

    import yaml

    stages = yaml.safe_load((SRC.parent / "dvc.yaml").read_text())["stages"]
    for stage in stages:
        module = importlib.import_module(f"fsqtok.stages.{stage}")
        assert isinstance(module.PARAMS, tuple) and callable(getattr(module, f"run_{stage}")), stage
