"""The latent flow generator (after TokCom): flow matching over sequences of the auto-encoder's chunk
latents, sampled from noise and spelled out by the frozen decoder."""
