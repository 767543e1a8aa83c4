"""Start the LM's fsqtok piece embeddings from what the auto-encoder knows about each piece.

A piece's FSQ code goes through the decoder's first layer (the representation the decoder
spells bytes from); PCA of those vectors gives d_model directions, rescaled to the LM's
init std. Specials and byte ids keep their random init.
"""

from __future__ import annotations

import torch

from fsqtok.lm.model import Transformer

INIT_STD = 0.02


@torch.no_grad()
def init_from_codes(model: Transformer, tokenizer) -> None:
    """Overwrite embedding rows of the learned pieces (ids 259..) with projected code features."""
    if len(tokenizer.codes) < 2:  # nothing to project (a vocabulary without learned pieces)
        return
    features = tokenizer.model.code_features(tokenizer.code_tensor())  # (P, F)
    centered = features - features.mean(dim=0)
    rank = min(model.config.d_model, *centered.shape)
    # Exact SVD, not torch.pca_lowrank: that one draws from the global RNG, so the init would
    # depend on whatever ran before (e.g. the previous seed's LM).
    _, _, vh = torch.linalg.svd(centered, full_matrices=False)
    projected = centered @ vh[:rank].T  # (P, rank)
    projected = projected / projected.std().clamp_min(1e-8) * INIT_STD
    first = tokenizer.vocab_size - len(tokenizer.codes)  # the learned pieces are the last ids
    model.token_embedding.weight[first:, :rank] = projected.to(model.token_embedding.weight.dtype)
