"""Generated data set module (filled in with its chapter)."""

__all__: list[str] = []
