"""Checkers for workbook 11 (filled in with the chapter)."""

__all__: list[str] = []
