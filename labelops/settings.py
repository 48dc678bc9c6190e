"""Django settings for LabelOps, read from the environment.

Every value has a production-safe default: DEBUG is off, hosts are local only,
and a missing SECRET_KEY yields an ephemeral random key (flagged by a system
check) rather than a well-known one. Bad values fail loudly at start-up,
naming the variable. See `labelops/checks.py` for the checks with ids.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def envint(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", "0")

def secret_key_from_file(path: Path) -> str:
    """Read SECRET_KEY_FILE, creating it (mode 0600) with a random key on first
    use, so one machine's processes share a key that survives restarts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE={path} is empty")
    return key


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and os.environ.get("SECRET_KEY_FILE"):
    SECRET_KEY = secret_key_from_file(Path(os.environ["SECRET_KEY_FILE"]))
SECRET_KEY_IS_EPHEMERAL = not SECRET_KEY
if SECRET_KEY_IS_EPHEMERAL:
    # Never a well-known key: a random one is safe, merely not stable across
    # restarts or processes (sessions are lost). labelops.W001 reports it.
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "labelops.audit",
    "labelops.projects",
    "labelops.items",
    "labelops.annotation",
    "labelops.quality",
    "labelops.learning",
    "labelops.demo",
    "labelops.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "labelops.urls"
WSGI_APPLICATION = "labelops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Storage -----------------------------------------------------------------

VAR_DIR = Path(os.environ.get("LABELOPS_VAR_DIR", BASE_DIR / "var"))
# The embedded defaults (SQLite file, broker folders, artifacts) live here; a
# fresh checkout has no such folder and SQLite will not create one.
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj-database-url raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r} is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker) share the embedded database: wait for
    # locks instead of failing at once, and use WAL so readers never block.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare the statements a connection
    # runs again and again (from the fifth run): PostgreSQL then skips parsing
    # and planning them, which took 2-3 ms off every queue `next` on the
    # benchmark machine (python -m labelops.bench queue). Behind a pooler that
    # cannot keep prepared statements (PgBouncer in transaction mode before
    # 1.21), set PG_PREPARED_STATEMENTS=0.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5 if envbool("PG_PREPARED_STATEMENTS", "1") else None)
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not DATABASES["default"]["TEST"]["NAME"]:
    # A file, not Django's in-memory default: tests that start a real worker
    # process need it to see the same test database.
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / "test.sqlite3")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Item files, uploads, model artifacts. Generated names only (see items.storage).
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts")).resolve()

# --- Upload limits -------------------------------------------------------------

# Largest import file accepted (bytes). Uploads spill to disk past
# FILE_UPLOAD_MAX_MEMORY_SIZE, so this bounds disk, not memory.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", 2 * 1024**3, minimum=1)
# Largest single image inside an import (bytes) and its pixel count.
IMAGE_MAX_BYTES = envint("IMAGE_MAX_BYTES", 20 * 1024**2, minimum=1)
IMAGE_MAX_PIXELS = envint("IMAGE_MAX_PIXELS", 40_000_000, minimum=1)
# Largest single text item (characters); longer rows are an error, not truncated.
TEXT_MAX_CHARS = envint("TEXT_MAX_CHARS", 100_000, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024**2, minimum=1)

# --- Security ----------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "0")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

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
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request if it is missing

# The browser app built by `npm run build` in frontend/ (see labelops.web).
# Its hashed assets are served as /static/frontend/...; Vite's `base` says so.
FRONTEND_DIST = Path(os.environ.get("FRONTEND_DIST", BASE_DIR / "frontend" / "dist")).resolve()
STATICFILES_DIRS = [("frontend", FRONTEND_DIST)]

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/app/"

# --- API -----------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not signed in" into a 401
    # rather than a 403. The browser app uses the session (with CSRF).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labelops.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Password guessing against the token endpoint is throttled per client IP.
    "DEFAULT_THROTTLE_RATES": {"auth": os.environ.get("AUTH_THROTTLE_RATE", "20/min")},
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if envbool("BROWSABLE_API", "1") else []),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "labelops.api.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "labelops.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LabelOps API",
    "DESCRIPTION": "Projects, taxonomies, items, import/export, annotations and training rounds.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
}

# --- Celery ----------------------------------------------------------------------

# The embedded default is kombu's filesystem transport: a real broker that
# needs no server, shared by the web process and a real worker process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport does not create its folders.
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Fanout exchanges (worker control) live here, not in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {}
)
# Tasks report through the database (ImportJob, TrainingRound), not a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "labelops.items.tasks.*": {"queue": "ingest"},
}
CELERY_WORKER_QUEUES = ["default", "ingest", "embed", "train"]
# Run by `celery beat` (the `scheduler` service). Leases are also expired
# lazily when someone asks for work; this sweep returns items nobody asks about.
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "labelops.annotation.tasks.expire_leases", "schedule": 60.0},
    "recover-stalled-rounds": {"task": "labelops.learning.tasks.recover_stalled_rounds", "schedule": 60.0},
    "start-due-rounds": {"task": "labelops.learning.tasks.start_due_rounds", "schedule": 60.0},
}

# --- Training rounds ---------------------------------------------------------------

# A worker running a round's step writes a heartbeat this often; a step whose
# heartbeat is older than ROUND_STALL_SECONDS is presumed dead and sent again.
ROUND_HEARTBEAT_SECONDS = envint("ROUND_HEARTBEAT_SECONDS", 10, minimum=1)
ROUND_STALL_SECONDS = envint("ROUND_STALL_SECONDS", 300, minimum=2)
if ROUND_STALL_SECONDS < 2 * ROUND_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        f"ROUND_STALL_SECONDS={ROUND_STALL_SECONDS} must be at least twice "
        f"ROUND_HEARTBEAT_SECONDS={ROUND_HEARTBEAT_SECONDS}, or live steps would be taken for dead ones"
    )
# Artifact folders of this many newest finished rounds per project are kept
# (the active model's always is); older ones are deleted after each round.
ROUND_ARTIFACT_RETENTION = envint("ROUND_ARTIFACT_RETENTION", 5, minimum=1)
# Folders a project's `text_encoder` setting may name (besides model names).
TEXT_ENCODER_DIRS = envlist("TEXT_ENCODER_DIRS", "")
# Torch/BLAS threads per worker process: on a small machine a training round
# must leave cores to the web server (issue 5's p95 target).
WORKER_TORCH_THREADS = envint("WORKER_TORCH_THREADS", 1, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
