"""fsqtok: a byte-level auto-encoder tokenizer with Finite Scalar Quantization, lossless on any bytes."""

from fsqtok.tokenizer import AutoEncoderTokenizer

__version__ = "0.1.0"
__all__ = ["AutoEncoderTokenizer", "__version__"]
