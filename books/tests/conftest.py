from ingestion.tests.conftest import jetstream  # noqa: F401 - the consumer tests' own stream, subject and durable
