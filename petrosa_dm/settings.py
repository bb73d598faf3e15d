"""Settings, read from the environment (12-factor).

Every variable is listed in docs/configuration.md with its default. A secret may also come from `<NAME>_FILE`
(a mounted Kubernetes secret): django-environ's FileAwareEnv reads it.
"""

import secrets
from pathlib import Path

import environ
from environ.fileaware_mapping import FileAwareMapping

BASE_DIR = Path(__file__).resolve().parent.parent


class _SecretFileMapping(FileAwareMapping):
    """`<NAME>_FILE` values without the trailing newline that `echo` and most secret tools leave in the file."""

    def __getitem__(self, key: str) -> str:
        value = super().__getitem__(key)
        return value.rstrip("\r\n") if self.env.get(f"{key}_FILE") else value


class _Env(environ.FileAwareEnv):
    ENVIRON = _SecretFileMapping()


env = _Env()

VAR_DIR = Path(env.str("DM_VAR_DIR", default=str(BASE_DIR / "var")))


def _secret_key() -> str:
    """The configured key, or one generated once and kept under var/ so sessions survive restarts."""
    configured = env.str("DJANGO_SECRET_KEY", default="")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The console comes first: its templates (admin index, dataset page) override the admin's own.
    "console",
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "petrosa_dm.apps.CoreConfig",
    "catalog",
    "audits",
    "backfills",
    "analytics",
    "ingestion",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "petrosa_dm.urls"
WSGI_APPLICATION = "petrosa_dm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str) -> dict:
    """Parse DATABASE_URL and route it through django-prometheus' instrumented backends."""
    config = env.db_url_config(url)
    config["ENGINE"] = config["ENGINE"].replace("django.db.backends.", "django_prometheus.db.backends.")
    if "mysql" in config["ENGINE"]:
        config.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database(env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The image collects static files at build time; finders let tests and a fresh checkout serve them without that.
WHITENOISE_USE_FINDERS = True

# --- Security (HTTPS settings are on when DJANGO_SECURE=true, as behind the production ingress) ---
SECURE = env.bool("DJANGO_SECURE", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = SECURE
# Inside the cluster, services and probes call the API over plain HTTP; browsers (admin, docs) go to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^data/", r"^analysis/", r"^catalog/", r"^backfill/", r"^schema$"]
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
# CORS is closed unless origins are listed.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Request size limits: the API takes small JSON bodies only.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- MongoDB (time series) ---
MONGODB_URL = env.str("MONGODB_URL", default="mongodb://127.0.0.1:27017/petrosa_dm")
MONGODB_TIMEOUT_MS = env.int("MONGODB_TIMEOUT_MS", default=2000)

# --- NATS ---
NATS_URL = env.str("NATS_URL", default="nats://localhost:4222")
NATS_CONSUMER_SUBJECT = env.str("NATS_CONSUMER_SUBJECT", default="binance.futures.websocket.data")
NATS_STREAM_NAME = env.str("NATS_STREAM_NAME", default="BINANCE_FUTURES_WS")
NATS_DURABLE_NAME = env.str("NATS_DURABLE_NAME", default="petrosa-data-manager")
NATS_STREAM_MAX_AGE = env.int("NATS_STREAM_MAX_AGE", default=24 * 3600)
NATS_STREAM_MAX_BYTES = env.int("NATS_STREAM_MAX_BYTES", default=2 * 1024**3)
CONSUMER_BATCH_SIZE = env.int("CONSUMER_BATCH_SIZE", default=500)
CONSUMER_METRICS_PORT = env.int("CONSUMER_METRICS_PORT", default=9090)
DEAD_LETTER_TTL_SECONDS = env.int("DEAD_LETTER_TTL_SECONDS", default=7 * 24 * 3600)

# --- Celery ---
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = VAR_DIR / "celery-broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # kombu's filesystem transport: producers write to data_folder_out, workers read data_folder_in;
    # one folder makes them meet, so `make run` needs no broker server.
    {"data_folder_in": str(_broker_dir), "data_folder_out": str(_broker_dir), "processed_folder": str(_broker_dir)}
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Features and schedule ---
ENABLE_AUDITOR = env.bool("ENABLE_AUDITOR", default=True)
ENABLE_BACKFILLER = env.bool("ENABLE_BACKFILLER", default=True)
ENABLE_ANALYTICS = env.bool("ENABLE_ANALYTICS", default=True)
ENABLE_API = env.bool("ENABLE_API", default=True)
AUDIT_INTERVAL = env.int("AUDIT_INTERVAL", default=300)
ANALYTICS_INTERVAL = env.int("ANALYTICS_INTERVAL", default=900)
CATALOG_SYNC_INTERVAL = env.int("CATALOG_SYNC_INTERVAL", default=300)
API_PORT = env.int("API_PORT", default=8000)

# --- Binance REST (backfills) ---
BINANCE_FUTURES_BASE_URL = env.str("BINANCE_FUTURES_BASE_URL", default="https://fapi.binance.com")
BINANCE_WEIGHT_BUDGET = env.int("BINANCE_WEIGHT_BUDGET", default=1200)
# Binance's weight window; tests and the bench shorten it so waiting for a reset is fast.
BINANCE_WEIGHT_WINDOW_SECONDS = env.float("BINANCE_WEIGHT_WINDOW_SECONDS", default=60.0)
BINANCE_CONNECT_TIMEOUT = env.float("BINANCE_CONNECT_TIMEOUT", default=5.0)
BINANCE_READ_TIMEOUT = env.float("BINANCE_READ_TIMEOUT", default=15.0)
# Attempts per request for 429s, 5xx, timeouts and malformed bodies, with exponential backoff and jitter.
BINANCE_MAX_ATTEMPTS = env.int("BINANCE_MAX_ATTEMPTS", default=6)
BINANCE_BACKOFF_INITIAL = env.float("BINANCE_BACKOFF_INITIAL", default=1.0)
BINANCE_BACKOFF_MAX = env.float("BINANCE_BACKOFF_MAX", default=30.0)
BACKFILL_DEPTH_LIMIT = env.int("BACKFILL_DEPTH_LIMIT", default=1000)
# A running job whose last page is older than this is taken over by `resume_stale_jobs` (a crashed worker);
# a pending job older than this was never picked up and is enqueued again.
BACKFILL_STALE_SECONDS = env.int("BACKFILL_STALE_SECONDS", default=300)

# --- Auditor ---
# Each run re-reads rows newer than the dataset's watermark minus this overlap, so late rows are still checked.
AUDIT_OVERLAP_SECONDS = env.int("AUDIT_OVERLAP_SECONDS", default=3600)
# A dataset whose newest row is younger than this is live: its audited window ends now, so a collector that stopped
# leaves a trailing gap. Older (historical) datasets are audited up to their newest row.
AUDIT_LIVE_SECONDS = env.int("AUDIT_LIVE_SECONDS", default=86400)
# A candle or funding time is missing only once it closed this long ago (the stream delivers closed candles late).
AUDIT_GRACE_SECONDS = env.int("AUDIT_GRACE_SECONDS", default=120)
# Funding times carry millisecond jitter (00:00:00.017); a row further than this from the hour is off schedule.
AUDIT_FUNDING_TOLERANCE_SECONDS = env.int("AUDIT_FUNDING_TOLERANCE_SECONDS", default=60)
# Freshness score: 100 up to 2 cadences of age, falling linearly to 0 at this many cadences.
AUDIT_FRESHNESS_ZERO_CADENCES = env.float("AUDIT_FRESHNESS_ZERO_CADENCES", default=20.0)
# Price anomaly: a log return further than SIGMA rolling standard deviations (over WINDOW previous returns).
AUDIT_ANOMALY_SIGMA = env.float("AUDIT_ANOMALY_SIGMA", default=10.0)
AUDIT_ANOMALY_WINDOW = env.int("AUDIT_ANOMALY_WINDOW", default=60)
# Individual findings written per check per dataset run (the counts in the health figures are never capped).
AUDIT_MAX_FINDINGS = env.int("AUDIT_MAX_FINDINGS", default=100)
# Unresolved gaps outside the incremental window that one run re-examines (least recently checked first).
AUDIT_RECHECK_GAPS = env.int("AUDIT_RECHECK_GAPS", default=200)
# Health bands used by /health/summary: healthy >= HEALTHY, degraded >= DEGRADED, else unhealthy.
AUDIT_HEALTHY_SCORE = env.float("AUDIT_HEALTHY_SCORE", default=90.0)
AUDIT_DEGRADED_SCORE = env.float("AUDIT_DEGRADED_SCORE", default=70.0)
# Automatic repair: open candle and funding gaps become backfill jobs, bounded per gap and per run.
AUDIT_REPAIR_ENABLED = env.bool("AUDIT_REPAIR_ENABLED", default=True)
AUDIT_REPAIR_MAX_GAP_ROWS = env.int("AUDIT_REPAIR_MAX_GAP_ROWS", default=10080)
AUDIT_REPAIR_MAX_JOBS = env.int("AUDIT_REPAIR_MAX_JOBS", default=20)

# --- Analytics ---
# A result whose window has less than this fraction of its expected candles is flagged `reliable: false`.
ANALYTICS_MIN_COVERAGE = env.float("ANALYTICS_MIN_COVERAGE", default=0.95)
# Window lengths, in bars, computed for every candle series on each run.
ANALYTICS_WINDOWS = [int(value) for value in env.list("ANALYTICS_WINDOWS", default=["20", "100"])]
# Seasonality profiles read this many days of candles (converted to bars per timeframe).
ANALYTICS_SEASONALITY_DAYS = env.int("ANALYTICS_SEASONALITY_DAYS", default=7)
# Stored correlation: each pair's rolling correlation of log returns against this pair, same timeframe.
ANALYTICS_REFERENCE_PAIR = env.str("ANALYTICS_REFERENCE_PAIR", default="BTCUSDT")
# Spread is measured per bar of this timeframe from the last book of each bar, depth within this band of the mid.
ANALYTICS_SPREAD_PERIOD = env.str("ANALYTICS_SPREAD_PERIOD", default="1m")
ANALYTICS_DEPTH_BAND_BPS = env.float("ANALYTICS_DEPTH_BAND_BPS", default=10.0)

# --- Ingestion (consumer) ---
# A partial batch is written this long after its first message arrived (bounds latency on a quiet stream).
CONSUMER_LINGER_MS = env.int("CONSUMER_LINGER_MS", default=20)
# Collections of one batch written in parallel.
# 1 suits the embedded store: its writers contend, and two parallel bulk writes take twice as long as one after the
# other. MongoDB takes parallel writes to different collections well; raise it there.
CONSUMER_WRITE_CONCURRENCY = env.int("CONSUMER_WRITE_CONCURRENCY", default=1)
# On SIGTERM with the store down, how long to keep retrying the batch in hand before leaving it for redelivery.
CONSUMER_SHUTDOWN_GRACE_SECONDS = env.float("CONSUMER_SHUTDOWN_GRACE_SECONDS", default=20.0)
NATS_ACK_WAIT_SECONDS = env.float("NATS_ACK_WAIT_SECONDS", default=30.0)
NATS_MAX_ACK_PENDING = env.int("NATS_MAX_ACK_PENDING", default=20_000)

# --- Serving (data and catalog API) ---
# Newest rows sync_catalog reads per collection to infer its schema and measure its cadence.
CATALOG_SAMPLE_SIZE = env.int("CATALOG_SAMPLE_SIZE", default=200)

# --- Readiness: components whose failure makes /health/readiness answer 503 ---
READINESS_REQUIRED = env.list("READINESS_REQUIRED", default=["database", "mongodb", "broker"])

# --- API ---
API_READ_REQUIRES_AUTH = env.bool("API_READ_REQUIRES_AUTH", default=False)
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "petrosa_dm.schema.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["petrosa_dm.permissions.ReadOpenWriteWithModelPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["petrosa_dm.filters.ParameterFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "petrosa_dm.pagination.BoundedPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "petrosa_dm.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Petrosa Data Manager API",
    "DESCRIPTION": "Binance USD-M futures market data, its health, catalog, backfills and analytics.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name get explicit component names (one entry per choice set).
    "ENUM_NAME_OVERRIDES": {
        "BackfillJobStatusEnum": "backfills.models.BackfillJob.Status",
        "BackfillDataTypeEnum": "backfills.models.BackfillJob.DataType",
        "DatasetStatusEnum": "catalog.models.Dataset.Status",
        "HealthStatusEnum": ["healthy", "unhealthy"],
    },
}

# --- Logging: structured JSON on stdout ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "filters": {"redact_secrets": {"()": "petrosa_dm.redaction.RedactSecretsFilter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pymongo": {"level": "WARNING"}},
}

# --- issue 17: the console shows times as `2024-08-08 23:55:39 UTC` (petrosa_dm/formats/en/formats.py) ---
FORMAT_MODULE_PATH = ["petrosa_dm.formats"]
# Every process logs the same JSON keys (petrosa_dm/logs.py): `service`, and `dataset` for the older `dataset_id`.
LOGGING["filters"]["structured"] = {"()": "petrosa_dm.logs.StructuredFieldsFilter"}
LOGGING["handlers"]["stdout"]["filters"].insert(0, "structured")
LOGGING["formatters"]["json"]["fmt"] = "%(asctime)s %(levelname)s %(name)s %(service)s %(message)s"
# Celery keeps its hands off the root logger; the worker and beat use LOGGING above.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The filesystem broker keeps its broadcast (control) files with the queue, not in the working directory.
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"] = str(_broker_dir / "control")


# --- Issue 14 (drop-in for the ecosystem, CONTRACT.md) ---
# Correlation matrices over at most this many requested pairs; more is 400 naming `pairs`.
ANALYTICS_CORRELATION_MAX_PAIRS = env.int("ANALYTICS_CORRELATION_MAX_PAIRS", default=20)
# The asc/desc choice appears in several response shapes: one OpenAPI component for all of them.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["SortOrderEnum"] = ["asc", "desc"]
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["RegimeLevelEnum"] = "analytics.calculators.regime.LEVELS"
# The earlier client sends `Authorization: Bearer <key>`: accept API tokens under that keyword too.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].append("petrosa_dm.authentication.BearerTokenAuthentication")


# --- Order books (issue 18): reconstruction, snapshots, checkpoints (docs/order-books.md) ---
BOOKS_KEEPER_ENABLED = env.bool("BOOKS_KEEPER_ENABLED", default=True)
BOOKS_CHECKPOINT_UPDATES = env.int("BOOKS_CHECKPOINT_UPDATES", default=500)
BOOKS_CHECKPOINT_SECONDS = env.float("BOOKS_CHECKPOINT_SECONDS", default=60.0)
BOOKS_SNAPSHOT_INTERVAL = env.float("BOOKS_SNAPSHOT_INTERVAL", default=3600.0)
BOOKS_SNAPSHOT_RETRY_SECONDS = env.float("BOOKS_SNAPSHOT_RETRY_SECONDS", default=10.0)
BOOKS_SNAPSHOT_LIMIT = env.int("BOOKS_SNAPSHOT_LIMIT", default=1000)
BOOKS_MAX_LEVELS = env.int("BOOKS_MAX_LEVELS", default=1000)
BOOKS_SLIPPAGE_NOTIONAL = env.float("BOOKS_SLIPPAGE_NOTIONAL", default=100_000.0)
BOOKS_CACHE_LEVELS = env.int("BOOKS_CACHE_LEVELS", default=1_000_000)


# --- issue 19: trade gaps by id, Binance's public archives (docs/archives.md) ---
BINANCE_ARCHIVE_BASE_URL = env.str("BINANCE_ARCHIVE_BASE_URL", default="https://data.binance.vision")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["BackfillDataSourceEnum"] = "backfills.models.BackfillJob.DataSource"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["RowSourceEnum"] = "ingestion.documents.SOURCES"
ARCHIVE_READ_TIMEOUT = env.float("ARCHIVE_READ_TIMEOUT", default=60.0)
# Rows parsed and written at a time: memory stays bounded by this, whatever a file's size.
ARCHIVE_CHUNK_ROWS = env.int("ARCHIVE_CHUNK_ROWS", default=10000)
# Files downloaded and checked ahead of the one being written (threads, and zips on disk at once).
ARCHIVE_PREFETCH_FILES = env.int("ARCHIVE_PREFETCH_FILES", default=2)
ARCHIVE_DOWNLOAD_DIR = env.str("ARCHIVE_DOWNLOAD_DIR", default="") or None
# A job planned over at least this many files is split into per-file part jobs that workers share (0: never).
ARCHIVE_SPLIT_MIN_FILES = env.int("ARCHIVE_SPLIT_MIN_FILES", default=4)
# Findings one reconciliation records at most (every difference is still counted).
RECONCILE_MAX_FINDINGS = env.int("RECONCILE_MAX_FINDINGS", default=1000)


# --- Hardening (issue 15; docs/security.md lists every protection, its setting and its default) ---
# Readiness results are shared for this long: concurrent probes cost one check.
READINESS_CACHE_SECONDS = env.float("READINESS_CACHE_SECONDS", default=1.5)
# Every store operation of the process: socket reads and the whole operation (also sent as maxTimeMS).
MONGODB_SOCKET_TIMEOUT_MS = env.int("MONGODB_SOCKET_TIMEOUT_MS", default=10000)
MONGODB_MAX_TIME_MS = env.int("MONGODB_MAX_TIME_MS", default=300_000)
# API requests (not the admin): one deadline for all store operations of a request.
API_STORE_TIMEOUT_MS = env.int("API_STORE_TIMEOUT_MS", default=5000)
# Dead letters: one per message, its payload cut at this size (with the whole size and SHA-256), and at most this
# many rejected events listed; the consumer gives a message up after this many deliveries (dead letter max_deliver).
DEAD_LETTER_MAX_RAW_BYTES = env.int("DEAD_LETTER_MAX_RAW_BYTES", default=16 * 1024)
DEAD_LETTER_MAX_REJECTIONS = env.int("DEAD_LETTER_MAX_REJECTIONS", default=100)
NATS_MAX_DELIVER = env.int("NATS_MAX_DELIVER", default=10)
# The consumer: one deadline for writing a batch (a failed write is retried; writes are idempotent).
CONSUMER_STORE_TIMEOUT_MS = env.int("CONSUMER_STORE_TIMEOUT_MS", default=30_000)
# After a store timeout, API reads answer 503 at once for this long instead of each holding a thread.
MONGODB_FAIL_FAST_SECONDS = env.float("MONGODB_FAIL_FAST_SECONDS", default=5.0)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"), "petrosa_dm.hardening.StoreDeadlineMiddleware"
)
# /metrics before any host check (Prometheus scrapes pod IPs); size limits before anything reads the request.
MIDDLEWARE.insert(1, "petrosa_dm.hardening.MetricsAnyHostMiddleware")
MIDDLEWARE.insert(2, "petrosa_dm.hardening.RequestLimitsMiddleware")
API_MAX_URI_LENGTH = env.int("API_MAX_URI_LENGTH", default=4096)
# Known symbols (petrosa_dm.market.symbols): the exchange's list cached in the store, refreshed on this schedule,
# read by each process at most this often; the fallback when no list was ever fetched; extras an admin allows.
SYMBOLS_REFRESH_INTERVAL = env.int("SYMBOLS_REFRESH_INTERVAL", default=3600)
SYMBOLS_CACHE_SECONDS = env.float("SYMBOLS_CACHE_SECONDS", default=60.0)
SYMBOLS_FALLBACK = env.list("SYMBOLS_FALLBACK", default=[])
SYMBOLS_ALLOWED_EXTRA = env.list("SYMBOLS_ALLOWED_EXTRA", default=[])
# Event times (and candle open / trade times) further than this past now are rejected (dead letter impossible_time).
INGEST_MAX_FUTURE_SKEW_SECONDS = env.float("INGEST_MAX_FUTURE_SKEW_SECONDS", default=300.0)
# Backfill bounds: candles per job (1,000,000 is about 1.9 years of 1m candles), days per job of the other types,
# and how far past now `end` may reach (clock skew).
BACKFILL_MAX_CANDLES = env.int("BACKFILL_MAX_CANDLES", default=1_000_000)
BACKFILL_MAX_SPAN_DAYS = {
    "trades": env.int("BACKFILL_MAX_TRADES_DAYS", default=31),
    "funding_rates": env.int("BACKFILL_MAX_FUNDING_DAYS", default=3660),
    "depth": env.int("BACKFILL_MAX_DEPTH_DAYS", default=31),
}
BACKFILL_FUTURE_TOLERANCE_SECONDS = env.int("BACKFILL_FUTURE_TOLERANCE_SECONDS", default=300)
# Bounded reads: /data/* offsets (deeper pages use start/end) and on-demand correlation windows, in bars.
API_MAX_OFFSET = env.int("API_MAX_OFFSET", default=10_000)
ANALYTICS_CORRELATION_MAX_WINDOW = env.int("ANALYTICS_CORRELATION_MAX_WINDOW", default=1000)
# Read throttling (petrosa_dm.throttling): DRF rates such as "600/min"; "off" disables one. The users named here
# (the cluster's services, by their API token) are never throttled. Probes (liveness, readiness) are not throttled.
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="600/min")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="3000/min")
API_THROTTLE_EXEMPT_USERS = env.list("API_THROTTLE_EXEMPT_USERS", default=[])
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": env.cache_url("THROTTLE_CACHE_URL", default="locmemcache://throttle"),
    # Admin actions' "already queued" marks (per process by default; a redis:// URL shares them).
    "locks": env.cache_url("LOCK_CACHE_URL", default="locmemcache://locks"),
}
# An admin action on a dataset is queued at most once per this many seconds (later clicks are skipped).
ADMIN_ACTION_REQUEUE_SECONDS = env.int("ADMIN_ACTION_REQUEUE_SECONDS", default=300)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "petrosa_dm.throttling.AnonReadThrottle",
    "petrosa_dm.throttling.UserReadThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": None if API_THROTTLE_ANON == "off" else API_THROTTLE_ANON,
    "user": None if API_THROTTLE_USER == "off" else API_THROTTLE_USER,
}
# Login throttling (django-axes; petrosa_dm.auth_backends): failed logins per username and address; past the limit
# that pair is locked out (429) for the cool-off, in hours; a successful login resets the count.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes requires
AUTHENTICATION_BACKENDS = ["petrosa_dm.auth_backends.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind the ingress the client address is the first X-Forwarded-For entry; AXES_IPWARE_* tune how it is read.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0) or None
