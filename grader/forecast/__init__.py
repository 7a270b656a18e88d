"""The daily series, forecast windows and metrics, evaluation against the baselines, and the reference models."""
