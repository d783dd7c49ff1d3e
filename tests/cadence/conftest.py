"""A throwaway CA for the Microsoft fakes (as tests/microsoft has)."""

from __future__ import annotations

import pytest

from microsoft.tls import TestCA


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))
