"""fsqtok: a byte-level auto-encoder tokenizer with FSQ."""
__version__ = "0.1.0"
