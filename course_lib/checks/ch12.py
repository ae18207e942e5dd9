"""Checkers for workbook 12 (filled in with the chapter)."""

__all__: list[str] = []
