"""Checkers for workbook 04 (filled in with the chapter)."""

__all__: list[str] = []
