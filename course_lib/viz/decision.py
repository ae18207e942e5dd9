"""Plots for the decision topic (filled in with the chapter)."""

__all__: list[str] = []
