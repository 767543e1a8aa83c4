"""Text in: corpus sources, the document split, and chunking into pre-tokens and pieces (no torch)."""
