"""Auto-grading for the recurrent-network assignment (Keras models, forecasts and prose)."""

__version__ = "0.1.0"
