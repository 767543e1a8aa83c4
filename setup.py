"""Builds fsqtok's compiled tokenizer cores (Cython); everything else is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("fsqtok.tokenizers._core", ["src/fsqtok/tokenizers/_core.pyx"], extra_compile_args=["-O3"]),
     Extension("fsqtok.tokenizers._merges", ["src/fsqtok/tokenizers/_merges.pyx"], language="c++",
               extra_compile_args=["-O3"])],
    build_dir="build/cython", compiler_directives={"language_level": 3}))
