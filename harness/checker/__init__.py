"""The durability checker: judges a history against every property by its name.

``check(history, params)`` returns the verdict as data; see docs/semantics.md for what each
property promises and how it is tested, and docs/history.md for the input.
"""

from harness.checker._analysis import Params
from harness.checker._check import RESULT_SCHEMA, check, merge
from harness.checker._properties import PROPERTIES, Property, Verdict, applicable
from harness.checker._render import describe_witness

__all__ = [
    "PROPERTIES",
    "RESULT_SCHEMA",
    "Params",
    "Property",
    "Verdict",
    "applicable",
    "check",
    "describe_witness",
    "merge",
]
