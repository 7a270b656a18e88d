"""Orchestration: intake, checking a submission, grading runs and batches, the self-check, Gradescope, the demo."""
