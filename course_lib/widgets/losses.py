"""Explorer for the losses chapter (filled in with the chapter)."""

__all__: list[str] = []
