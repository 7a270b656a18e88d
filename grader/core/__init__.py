"""The base layer every other layer shares: results, the question bank, the course and its config."""
