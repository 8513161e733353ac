"""Fixtures of the hostile-input suite."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_ledger(tmp_path):
    """An environment whose default ledger does not exist: no personal ledger is read."""
    return {"TRIAGE_LEDGER": str(tmp_path / "no-ledger.db")}
