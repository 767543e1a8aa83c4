"""How training runs: device and threads, precision, the optimizer recipe and its schedule."""
