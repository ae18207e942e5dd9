"""Plots for the embeddings topic (filled in with the chapter)."""

__all__: list[str] = []
