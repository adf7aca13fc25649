"""Reports: verdict tables, results.json, junit.xml and the self-contained report.html."""

from harness.report._table import print_check_result, verdict_text

__all__ = ["print_check_result", "verdict_text"]
