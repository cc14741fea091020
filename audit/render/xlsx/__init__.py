"""report.xlsx: the workbook (workbook.py), one module per sheet, and the cell toolkit they
share (cells.py)."""

from audit.render.xlsx.workbook import XlsxReport

__all__ = ["XlsxReport"]
