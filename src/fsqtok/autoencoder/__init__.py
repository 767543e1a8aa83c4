"""The byte auto-encoder: FSQ, the pure model, its data, training, metrics, inference and bundles."""
