"""Checkers for workbook 03 (filled in with the chapter)."""

__all__: list[str] = []
