"""Explorer for the attention chapter (filled in with the chapter)."""

__all__: list[str] = []
