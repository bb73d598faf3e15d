import pytest

from books import selectors, store
from ingestion.tests.conftest import jetstream  # noqa: F401 - the consumer tests' own stream, subject and durable


@pytest.fixture(autouse=True)
def fresh_books_cache():
    """Each test's store starts empty: what an earlier test's process cached must not answer for it."""
    selectors.forget_cache()
    yield
    selectors.forget_cache()
    store.forget_indexes()
