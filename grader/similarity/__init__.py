"""Measures of shared work between submissions: model weights, q6 code, prose (plain data in, findings out)."""
