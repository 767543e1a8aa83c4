"""Trains a few steps of the auto-encoder or the LM, alone or as one rank under torchrun, and has
rank 0 save the weights: the distributed tests compare the two."""

import sys
import tempfile

import torch

from fsqtok.autoencoder.data import chunk_tensor
from fsqtok.autoencoder.train import PretrainRun
from fsqtok.config import params_from_dict
from fsqtok.lm.data import pack
from fsqtok.lm.model import Transformer, TransformerConfig
from fsqtok.lm.train import train_lm
from fsqtok.runtime.distributed import init_world, shutdown
from fsqtok.store.checkpoint import Checkpointer
from fsqtok.tokenizers.baselines import ByteTokenizer

TEXTS = ["In the beginning God created the heaven and the earth.",
         "And the earth was without form, and void; and darkness was upon the face of the deep."] * 3
# norm_scale 1: with 2 the 1- and 2-process weights of this tiny run part ways after a few steps (most
# likely a latent near an FSQ rounding boundary that rounds the other way when the norm sums in another order).
PARAMS = {"precision": "fp32", "device": "cpu",
          "autoencoder": {"norm_scale": 1.0, "d_byte": 8, "conv_channels": [16, 16, 16],
                          "deconv_channels": [16, 16, 16], "d_latent": 32, "decoder_hidden": 64},
          "pretrain": {"batch_size": 16, "warmup_steps": 2, "eval_chunks": 50, "keep_checkpoints": 2},
          "lm": {"n_layer": 1, "n_head": 2, "d_model": 16, "context_tokens": 16, "batch_size": 16, "lr": 0.01,
                 "warmup_steps": 2}}


def main(kind: str, out: str, steps: int) -> None:
    torch.set_num_threads(1)
    world, device = init_world(torch.device("cpu"))
    if kind == "ae":
        params = params_from_dict({**PARAMS, "pretrain": {**PARAMS["pretrain"], "steps": steps, "eval_every": steps,
                                                           "checkpoint_every": steps}})
        chunks = chunk_tensor(TEXTS, params.chunking.max_chunk_bytes)
        with tempfile.TemporaryDirectory() as tmp:
            run = PretrainRun(params, chunks, chunks, Checkpointer(tmp, 2), "key", device, progress=False, world=world)
            model, _ = run.run()  # the best step is the last, the only one evaluated
    else:
        params = params_from_dict({**PARAMS, "lm": {**PARAMS["lm"], "steps": steps, "eval_every": steps}})
        tokenizer = ByteTokenizer()
        tokens, segments = pack([tokenizer.encode(t) for t in TEXTS], 16, 1, 2, 0)
        torch.manual_seed(0)
        model = Transformer(TransformerConfig(tokenizer.vocab_size, 1, 2, 16, 16))
        train_lm(model, tokens, segments, params.lm, device, 0, lambda step: {}, "byte", "fp32", world, micro_rows=4)
    if world.is_main:
        torch.save(model.state_dict(), out)
    shutdown(world)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
