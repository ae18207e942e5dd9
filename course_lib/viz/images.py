"""Plots for the images topic (filled in with the chapter)."""

__all__: list[str] = []
