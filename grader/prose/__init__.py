"""Prose answers: reading answers.md and scoring it against the rubric."""
