"""Plots for the attention topic (filled in with the chapter)."""

__all__: list[str] = []
