"""Packing documents into fixed-length rows with a document-boundary ("sawtooth") mask.

Each document is [<bos>] + ids + [<eos>]; documents are shuffled and concatenated; rows of
context + 1 tokens overlap by one, so every token but the first is a target exactly once.
Attention and loss never cross a document boundary, and positions restart at each document.
"""

from __future__ import annotations

import random

import torch


def pack(documents: list[list[int]], context: int, bos: int, eos: int,
         seed: int | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens, segments), both (N, context + 1) int64; segment = document number.
    Example: docs [[5], [6, 7]], context 3, no shuffle -> tokens [[1, 5, 2, 1], [1, 6, 7, 2]]"""
    order = list(range(len(documents)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    stream, segment = [], []
    for n, i in enumerate(order):
        doc = [bos] + documents[i] + [eos]
        stream += doc
        segment += [n] * len(doc)
    rows = max(1, (len(stream) - 1 + context - 1) // context)
    pad = rows * context + 1 - len(stream)
    tokens = torch.tensor(stream + [eos] * pad)
    segments = torch.tensor(segment + [-1] * pad)  # padding is a segment of its own
    index = torch.arange(rows).unsqueeze(1) * context + torch.arange(context + 1)  # (N, context + 1)
    return tokens[index], segments[index]


def batch_inputs(tokens: torch.Tensor, segments: torch.Tensor) -> dict[str, torch.Tensor]:
    """Model inputs and loss targets for rows from `pack`.
    ids/targets (B, T); attn_mask (B, T, T): causal and same document; positions (B, T)
    restart at 0 at each document's first token in the row; loss_mask (B, T) marks
    targets in the same document as their input."""
    ids, targets = tokens[:, :-1], tokens[:, 1:]
    seg_in = segments[:, :-1]
    T = ids.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    same_doc = seg_in.unsqueeze(2) == seg_in.unsqueeze(1)  # (B, T, T)
    starts = torch.ones_like(seg_in, dtype=torch.bool)
    starts[:, 1:] = seg_in[:, 1:] != seg_in[:, :-1]
    index = torch.arange(T).expand_as(seg_in)
    last_start = torch.cummax(torch.where(starts, index, torch.zeros_like(index)), dim=1).values
    return {
        "ids": ids,
        "targets": targets,
        "attn_mask": causal & same_doc,
        "positions": index - last_start,
        "loss_mask": target_mask(segments),
    }


def target_mask(segments: torch.Tensor) -> torch.Tensor:
    """segments (B, T + 1) of packed rows -> (B, T): the targets in the same document as their input."""
    return (segments[:, :-1] == segments[:, 1:]) & (segments[:, 1:] >= 0)


def encode_documents(encode, texts: list[str], token_budget: int, seed: int) -> list[list[int]]:
    """Shuffled documents encoded with `encode` until `token_budget` ids (one pass of training)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    documents, total = [], 0
    for i in order:
        if total >= token_budget:
            break
        documents.append(encode(texts[i]))
        total += len(documents[-1]) + 2
    return documents
