"""Tokenizers on one protocol and one id layout: fsqtok (vocabulary, codebook pruning) and the baselines."""
