"""Checkers for workbook 09 (filled in with the chapter)."""

__all__: list[str] = []
