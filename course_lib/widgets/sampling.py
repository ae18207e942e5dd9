"""Explorer for the sampling chapter (filled in with the chapter)."""

__all__: list[str] = []
