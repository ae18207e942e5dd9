"""Plots for the losses topic (filled in with the chapter)."""

__all__: list[str] = []
