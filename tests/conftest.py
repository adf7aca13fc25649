"""Suite-wide settings: which tests must not run side by side under pytest-xdist.

The suite runs on two workers (``-n 2 --dist loadgroup``, pyproject.toml). Tests that share a
Docker engine's images and containers run on one worker, one after another; so do the
model-checking tests, which keep both cores busy on their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
# Test files (relative to tests/) whose tests run on one worker, by group.
_GROUPS = {
    "docker": ("docker/", "matrix/test_matrix.py", "ci/test_templates.py"),
    "tlc": ("spec/",),
}


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each test is collected: xdist reads the groups when collection ends.
    try:
        where = item.path.resolve().relative_to(_HERE).as_posix()
    except ValueError:
        return
    for group, prefixes in _GROUPS.items():
        if where.startswith(prefixes) or item.get_closest_marker(group) is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            return
