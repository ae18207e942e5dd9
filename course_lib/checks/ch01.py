"""Checkers for workbook 01 (filled in with the chapter)."""

__all__: list[str] = []
