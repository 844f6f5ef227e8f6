import pytest

from redharness import red  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def _temporary_working_directory(tmp_path, monkeypatch) -> None:
    # Nothing a test runs may leave files in the repository.
    monkeypatch.chdir(tmp_path)
