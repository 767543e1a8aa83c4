"""fsqtok: a byte-level auto-encoder tokenizer with Finite Scalar Quantization, lossless on any bytes.

The package face is lazy: `from fsqtok import AutoEncoderTokenizer` loads the tokenizer on first
use, so `import fsqtok.text.corpus` (and every stage) loads only the modules it names.
"""

__version__ = "0.1.0"
__all__ = ["AutoEncoderTokenizer", "__version__"]


def __getattr__(name: str):
    if name == "AutoEncoderTokenizer":
        from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

        return AutoEncoderTokenizer
    raise AttributeError(f"module 'fsqtok' has no attribute {name!r}")
