"""The workflow-level tests here train and load models: each starts without a current model."""

import pytest


@pytest.fixture(autouse=True)
def _clean_session(clean_model_session):
    """Autouse wrapper of the shared ``clean_model_session`` fixture (tests/conftest.py)."""
