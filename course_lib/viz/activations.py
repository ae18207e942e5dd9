"""Plots for the activations topic (filled in with the chapter)."""

__all__: list[str] = []
