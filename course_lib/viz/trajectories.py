"""Plots for the trajectories topic (filled in with the chapter)."""

__all__: list[str] = []
