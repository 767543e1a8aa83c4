"""The small decoder-only LM that measures tokenizers by bits-per-byte."""
