"""What is kept: atomic files, bundles, checkpoints, provenance and MLflow tracking."""
