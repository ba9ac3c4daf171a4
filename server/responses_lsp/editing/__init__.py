"""Turning a model's stream into safe edits."""
