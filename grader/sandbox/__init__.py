"""Where untrusted files are loaded and student code runs: isolated worker processes, their ops, and the prober that talks to them."""
