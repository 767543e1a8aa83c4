"""One module per DVC stage: PARAMS (the params keys it reads, which dvc.yaml lists too) and
run_<stage>(params, paths, tracker) -> metrics. The only code that reads and writes stage
files, logs to MLflow and draws reports; the library below never imports it."""
