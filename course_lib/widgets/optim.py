"""Explorer for the optim chapter (filled in with the chapter)."""

__all__: list[str] = []
