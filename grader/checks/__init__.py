"""The pure rules: functions from a model description or a probe result to an Outcome."""
