"""Conversations kept with the model, and their compaction."""
