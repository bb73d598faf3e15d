"""The consumer's Prometheus metrics (served on CONSUMER_METRICS_PORT by `manage.py consume`).

The first five names are the seed service's, kept so its dashboards keep working.
"""

from prometheus_client import Counter, Gauge, Histogram

BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

messages_received = Counter("data_manager_messages_received_total", "Messages fetched from NATS JetStream.")
messages_processed = Counter(
    "data_manager_messages_processed_total", "Messages handled and acked (stored, ignored or dead-lettered)."
)
messages_failed = Counter(
    "data_manager_messages_failed_total", "Messages or array events rejected as bad input.", ["reason"]
)
processing_seconds = Histogram(
    "data_manager_message_processing_seconds",
    "Seconds from fetching a batch of messages to acking it (parse, write, ack), observed once per batch.",
    buckets=LATENCY_BUCKETS,
)
nats_connection_status = Gauge("data_manager_nats_connection_status", "1 when connected to NATS, else 0.")

batch_size = Histogram("data_manager_consumer_batch_size", "Messages per fetched batch.", buckets=BATCH_BUCKETS)
write_seconds = Histogram(
    "data_manager_store_write_seconds", "Seconds to write one batch's rows of one collection.", ["data_type"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
rows_written = Counter("data_manager_rows_written_total", "Rows inserted or updated in the store.", ["data_type"])
duplicates = Counter(
    "data_manager_duplicates_total", "Rows already stored (redelivery, replay, or an older update).", ["data_type"]
)
messages_ignored = Counter("data_manager_messages_ignored_total", "Well-formed events of types we do not store.")
dead_letters = Counter("data_manager_dead_letters_total", "Documents written to the dead_letters collection.")
store_retries = Counter("data_manager_store_retries_total", "Batch writes retried because the store failed.")
publish_lag_seconds = Histogram(
    "data_manager_publish_to_store_seconds",
    "Seconds from the socket client's envelope timestamp to the row being stored.",
    buckets=LATENCY_BUCKETS,
)
