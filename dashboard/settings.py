"""Settings of Stratus, read once from typed environment variables.

Every variable is parsed with its type; a bad value stops the process with a message naming it.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvError

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env(expand_vars=False)


def _read(kind: str, name: str, default, **kwargs):
    try:
        return getattr(env, kind)(name, default, **kwargs)
    except (EnvError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"Environment variable {name}={os.environ.get(name)!r} is invalid: {exc}"
        ) from exc


DATA_DIR = Path(_read("str", "STRATUS_DATA_DIR", str(BASE_DIR / "var"))).expanduser().resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = _read("bool", "DEBUG", False)
PORT = _read("int", "PORT", 8000)
if not 0 < PORT < 65536:
    raise ImproperlyConfigured(f"Environment variable PORT={PORT} is not a TCP port (1-65535).")
ALLOWED_HOSTS = _read("list", "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _read("list", "CSRF_TRUSTED_ORIGINS", [])


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    given = _read("str", "SECRET_KEY", "")
    if given:
        if len(given) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")
        return given
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(64)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


SECRET_KEY = _secret_key()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "axes",
    "csp",
    "dashboard",
    "images",
    "flavors",
    "instances",
]

MIDDLEWARE = [
    "dashboard.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.ProjectContextMiddleware",
    "dashboard.preferences.TimeZoneMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"
AUTH_USER_MODEL = "dashboard.User"

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
                "dashboard.context_processors.navigation",
            ],
        },
    }
]

# Database: SQLite under the data dir unless DATABASE_URL names another (PostgreSQL supported).
_default_db = f"sqlite:///{DATA_DIR / 'stratus.sqlite3'}"
DATABASES = {"default": _read("dj_db_url", "DATABASE_URL", _default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the workers read while one writes; IMMEDIATE transactions take
    # the write lock up front, so a conditional UPDATE never fails on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
elif DATABASES["default"]["ENGINE"] not in ("django.db.backends.postgresql",):
    raise ImproperlyConfigured("DATABASE_URL must name an SQLite or PostgreSQL database.")
elif not any(importlib.util.find_spec(driver) for driver in ("psycopg", "psycopg2")):
    raise ImproperlyConfigured(
        "DATABASE_URL names PostgreSQL, but its driver psycopg is not installed: "
        "pip install -c requirements.lock -e '.[postgresql]' (`make run` does it when DATABASE_URL is set)."
    )
DATABASES["default"]["TEST"] = {"NAME": None}
# Keep each worker thread's connection between requests: opening one (and, for SQLite, its
# PRAGMAs and schema parse) cost more than the whole image list query. Checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = _read("int", "STRATUS_DB_CONN_MAX_AGE", 600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, cache and progress. Without REDIS_URL, `make run` starts a private Redis on a
# socket in the data dir.
REDIS_URL = _read("str", "REDIS_URL", f"unix://{DATA_DIR / 'redis.sock'}")
_redis = urlsplit(REDIS_URL)
if _redis.scheme not in ("redis", "rediss", "unix"):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://.")
REDIS_IS_PRIVATE = "REDIS_URL" not in os.environ
CELERY_BROKER_URL = f"redis+socket://{_redis.path}" if _redis.scheme == "unix" else REDIS_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "stratus",
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = _read("int", "STRATUS_SESSION_AGE", 8 * 3600)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _read("bool", "STRATUS_BEHIND_TLS_PROXY", False) else None
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_PROXY_SSL_HEADER is not None
if SECURE_PROXY_SSL_HEADER:
    # Served over TLS by a proxy: insist on HTTPS and remember it (health checks stay on plain HTTP).
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = _read("int", "STRATUS_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _read("bool", "STRATUS_HSTS_PRELOAD", True)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Only our own scripts run: no inline script, no eval, no third-party origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dashboard.identity.service.ServiceAwareBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Login throttling (django-axes): lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = _read("int", "STRATUS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_read("int", "STRATUS_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", BASE_DIR / "node_modules" / "bootstrap-icons" / "font"),
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    # The tus client of the Create Image form (resumable uploads).
    ("vendor/tus", BASE_DIR / "node_modules" / "tus-js-client" / "dist"),
    # noVNC's ES modules, imported unbundled by static/js/console.js (core/ imports ../vendor/).
    ("vendor/novnc/core", BASE_DIR / "node_modules" / "@novnc" / "novnc" / "core"),
    ("vendor/novnc/vendor", BASE_DIR / "node_modules" / "@novnc" / "novnc" / "vendor"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dashboard.api.authentication.TokenAuthentication",
        "dashboard.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dashboard.api.authentication.IsAuthenticatedContext"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "dashboard.api.negotiation.EmptyAcceptNegotiation",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "dashboard.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Identity
TOKEN_EXPIRATION = timedelta(seconds=_read("int", "STRATUS_TOKEN_EXPIRATION", 3600))
REGION_NAME = _read("str", "STRATUS_REGION", "RegionOne")
# Base URL advertised in the service catalog; by default the URL the client used.
PUBLIC_URL = _read("str", "STRATUS_PUBLIC_URL", "").rstrip("/")

# Policy: defaults are registered in code; an operator file (JSON or YAML) overrides them.
POLICY_FILE = _read("str", "STRATUS_POLICY_FILE", "")
if POLICY_FILE and not Path(POLICY_FILE).is_file():
    raise ImproperlyConfigured(f"STRATUS_POLICY_FILE={POLICY_FILE!r} does not exist.")

# qemu-img, wherever it runs (image workers, compute hosts): prlimit --as / --cpu and a timeout.
QEMU_IMG_BINARY = _read("str", "STRATUS_QEMU_IMG", "qemu-img")
QEMU_IMG_ADDRESS_SPACE_MB = _read("int", "STRATUS_QEMU_IMG_ADDRESS_SPACE_MB", 1024)
QEMU_IMG_CPU_SECONDS = _read("int", "STRATUS_QEMU_IMG_CPU_SECONDS", 120)
QEMU_IMG_TIMEOUT = _read("int", "STRATUS_QEMU_IMG_TIMEOUT", 600)

# Celery
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = _read("int", "STRATUS_TASK_TIME_LIMIT", 3 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "purge-expired-tokens": {"task": "dashboard.tasks.purge_expired_tokens", "schedule": 600.0},
    # Bulk jobs whose worker died are sent again (see dashboard.bulk).
    "bulk-resume": {"task": "dashboard.bulk_resume", "schedule": 120.0},
}
# The outbox (dashboard.celery.enqueue): how often the relay sends again what the broker could not
# take, and how old a message must be before the relay sends it (younger ones are being sent now).
OUTBOX_RELAY_INTERVAL = _read("float", "STRATUS_OUTBOX_RELAY_INTERVAL", 10.0)
OUTBOX_RELAY_GRACE = _read("float", "STRATUS_OUTBOX_RELAY_GRACE", 5.0)
if OUTBOX_RELAY_INTERVAL <= 0 or OUTBOX_RELAY_GRACE < 0:
    raise ImproperlyConfigured(
        "STRATUS_OUTBOX_RELAY_INTERVAL must be positive, STRATUS_OUTBOX_RELAY_GRACE not negative."
    )
CELERY_BEAT_SCHEDULE["relay-outbox"] = {
    "task": "dashboard.tasks.relay_outbox",
    "schedule": OUTBOX_RELAY_INTERVAL,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _read("str", "STRATUS_LOG_LEVEL", "INFO").upper()},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Compute: flavors ---
# Most items one Compute API list returns (Nova's [api] max_limit); clients page with marker/limit.
COMPUTE_API_MAX_LIMIT = _read("int", "STRATUS_COMPUTE_API_MAX_LIMIT", 1000)
if COMPUTE_API_MAX_LIMIT < 1:
    raise ImproperlyConfigured("STRATUS_COMPUTE_API_MAX_LIMIT must be at least 1.")

# --- Image service ---
# Stores: JSON {name: {"type": "filesystem", "path": …} | {"type": "s3", "bucket": …, "endpoint_url": …,
# "access_key": …, "secret_key": …, "region": …, "prefix": …}}. HTTP locations need no entry.
IMAGE_STORES = _read(
    "json", "STRATUS_IMAGE_STORES", {"file": {"type": "filesystem", "path": str(DATA_DIR / "images")}}
)
IMAGE_DEFAULT_STORE = _read("str", "STRATUS_IMAGE_DEFAULT_STORE", next(iter(IMAGE_STORES), "file"))
if IMAGE_DEFAULT_STORE not in IMAGE_STORES:
    raise ImproperlyConfigured(f"STRATUS_IMAGE_DEFAULT_STORE={IMAGE_DEFAULT_STORE!r} names no store.")
IMAGE_STAGING_DIR = Path(_read("str", "STRATUS_IMAGE_STAGING_DIR", str(DATA_DIR / "staging"))).resolve()
IMAGE_CHUNK_SIZE = _read("int", "STRATUS_IMAGE_CHUNK_SIZE", 4 * 1024 * 1024)
if not 64 * 1024 <= IMAGE_CHUNK_SIZE <= 16 * 1024 * 1024:
    raise ImproperlyConfigured("STRATUS_IMAGE_CHUNK_SIZE must be between 64 KiB and 16 MiB.")
# Read upload bodies of known length straight from gunicorn's socket into the pipeline's buffers.
IMAGE_DIRECT_SOCKET_READS = _read("bool", "STRATUS_IMAGE_DIRECT_SOCKET_READS", True)
# How many chunk buffers an upload cycles through (reading, hashing and writing overlap).
IMAGE_PIPELINE_BUFFERS = _read("int", "STRATUS_IMAGE_PIPELINE_BUFFERS", 2)
if not 2 <= IMAGE_PIPELINE_BUFFERS <= 16:
    raise ImproperlyConfigured("STRATUS_IMAGE_PIPELINE_BUFFERS must be between 2 and 16.")
IMAGE_MAX_SIZE = _read("int", "STRATUS_IMAGE_MAX_SIZE", 1 << 40)  # bytes per image
IMAGE_MAX_VIRTUAL_SIZE = _read("int", "STRATUS_IMAGE_MAX_VIRTUAL_SIZE", 2 << 40)
IMAGE_CONVERT_TO = _read("str", "STRATUS_IMAGE_CONVERT_TO", "qcow2")  # "" disables conversion
if IMAGE_CONVERT_TO not in ("", "qcow2", "raw"):
    raise ImproperlyConfigured("STRATUS_IMAGE_CONVERT_TO must be qcow2, raw or empty (no conversion).")
IMAGE_CONVERT_FROM = _read("list", "STRATUS_IMAGE_CONVERT_FROM", ["raw", "vmdk", "vhd", "vhdx", "vdi"])
IMAGE_VMDK_ALLOWED_TYPES = _read(
    "list", "STRATUS_IMAGE_VMDK_ALLOWED_TYPES", ["monolithicSparse", "streamOptimized"]
)
# URL import: schemes, ports and networks. Loopback, private, link-local and reserved addresses are
# refused unless an operator lists their network here (CIDRs).
IMAGE_IMPORT_ALLOWED_SCHEMES = ["http", "https"]
IMAGE_IMPORT_ALLOWED_PORTS = _read("list", "STRATUS_IMAGE_IMPORT_ALLOWED_PORTS", [80, 443], subcast=int)
IMAGE_IMPORT_ALLOWED_NETWORKS = _read("list", "STRATUS_IMAGE_IMPORT_ALLOWED_NETWORKS", [])
IMAGE_IMPORT_CONNECT_TIMEOUT = _read("float", "STRATUS_IMAGE_IMPORT_CONNECT_TIMEOUT", 10.0)
IMAGE_IMPORT_READ_TIMEOUT = _read("float", "STRATUS_IMAGE_IMPORT_READ_TIMEOUT", 30.0)
IMAGE_IMPORT_TOTAL_TIMEOUT = _read("float", "STRATUS_IMAGE_IMPORT_TOTAL_TIMEOUT", 3600.0)
IMAGE_IMPORT_MAX_REDIRECTS = _read("int", "STRATUS_IMAGE_IMPORT_MAX_REDIRECTS", 5)
# A worker holds an import for this long between heartbeats; a lapsed lease means the worker died.
IMAGE_IMPORT_LEASE = _read("int", "STRATUS_IMAGE_IMPORT_LEASE", 120)
# How long the record of a finished import task is kept (Glance's task_time_to_live), seconds.
IMAGE_TASK_TIME_TO_LIVE = _read("int", "STRATUS_IMAGE_TASK_TIME_TO_LIVE", 48 * 3600)
IMAGE_IMPORT_MAX_ATTEMPTS = _read("int", "STRATUS_IMAGE_IMPORT_MAX_ATTEMPTS", 3)
# An upload (PUT /file) that has not progressed for this long is returned to queued by the sweeper.
IMAGE_UPLOAD_STALL_TIMEOUT = _read("int", "STRATUS_IMAGE_UPLOAD_STALL_TIMEOUT", 3600)
IMAGE_SWEEP_INTERVAL = _read("float", "STRATUS_IMAGE_SWEEP_INTERVAL", 300.0)
# A resumable (tus) upload that receives no byte for this many seconds expires: its staged bytes
# are removed and the image is queued again. A beat task looks for expired ones every CHECK seconds.
IMAGE_UPLOAD_EXPIRY = _read("int", "STRATUS_IMAGE_UPLOAD_EXPIRY", 24 * 3600)
IMAGE_UPLOAD_EXPIRY_CHECK = _read("float", "STRATUS_IMAGE_UPLOAD_EXPIRY_CHECK", 300.0)
if IMAGE_UPLOAD_EXPIRY < 1 or IMAGE_UPLOAD_EXPIRY_CHECK <= 0:
    raise ImproperlyConfigured("STRATUS_IMAGE_UPLOAD_EXPIRY and _EXPIRY_CHECK must be positive.")
# Imports read, hash and convert at most this many bytes a second per pass (0: no limit), so
# that a large import leaves disk and CPU to the guests of a host that also runs a worker.
IMAGE_IMPORT_BYTES_PER_SECOND = _read("int", "STRATUS_IMAGE_IMPORT_BYTES_PER_SECOND", 0)
if IMAGE_IMPORT_BYTES_PER_SECOND < 0:
    raise ImproperlyConfigured("STRATUS_IMAGE_IMPORT_BYTES_PER_SECOND must not be negative.")
# Per-project quotas (hard; -1 = unlimited) and per-image limits.
IMAGE_QUOTA_COUNT = _read("int", "STRATUS_IMAGE_QUOTA_COUNT", 100)
IMAGE_QUOTA_BYTES = _read("int", "STRATUS_IMAGE_QUOTA_BYTES", 1 << 40)
IMAGE_QUOTA_STAGING_BYTES = _read("int", "STRATUS_IMAGE_QUOTA_STAGING_BYTES", 1 << 40)
IMAGE_QUOTA_UPLOADS = _read("int", "STRATUS_IMAGE_QUOTA_UPLOADS", 10)
IMAGE_PROPERTY_QUOTA = _read("int", "STRATUS_IMAGE_PROPERTY_QUOTA", 128)
IMAGE_TAG_QUOTA = _read("int", "STRATUS_IMAGE_TAG_QUOTA", 128)
IMAGE_MEMBER_QUOTA = _read("int", "STRATUS_IMAGE_MEMBER_QUOTA", 128)
# Property protections (Glance semantics): an INI file of regex sections; format roles or policies.
IMAGE_PROPERTY_PROTECTION_FILE = _read("str", "STRATUS_PROPERTY_PROTECTION_FILE", "")
IMAGE_PROPERTY_PROTECTION_FORMAT = _read("str", "STRATUS_PROPERTY_PROTECTION_RULE_FORMAT", "roles")
if IMAGE_PROPERTY_PROTECTION_FORMAT not in ("roles", "policies"):
    raise ImproperlyConfigured("STRATUS_PROPERTY_PROTECTION_RULE_FORMAT must be roles or policies.")
# The scrubber re-hashes stored images in the background (images.integrity): a round every
# INTERVAL seconds (0: never) checks up to IMAGES_PER_RUN images whose last check is older than AGE
# seconds, reading at most BYTES_PER_SECOND (0: as fast as the store and SHA-512 go).
IMAGE_SCRUB_INTERVAL = _read("float", "STRATUS_IMAGE_SCRUB_INTERVAL", 3600.0)
IMAGE_SCRUB_AGE = _read("int", "STRATUS_IMAGE_SCRUB_AGE", 7 * 24 * 3600)
IMAGE_SCRUB_IMAGES_PER_RUN = _read("int", "STRATUS_IMAGE_SCRUB_IMAGES_PER_RUN", 20)
IMAGE_SCRUB_BYTES_PER_SECOND = _read("int", "STRATUS_IMAGE_SCRUB_BYTES_PER_SECOND", 64 * 1024 * 1024)
for _name, _value in (
    ("STRATUS_IMAGE_SCRUB_INTERVAL", IMAGE_SCRUB_INTERVAL),
    ("STRATUS_IMAGE_SCRUB_AGE", IMAGE_SCRUB_AGE),
    ("STRATUS_IMAGE_SCRUB_BYTES_PER_SECOND", IMAGE_SCRUB_BYTES_PER_SECOND),
):
    if _value < 0:
        raise ImproperlyConfigured(f"{_name} must not be negative.")
if IMAGE_SCRUB_IMAGES_PER_RUN < 1:
    raise ImproperlyConfigured("STRATUS_IMAGE_SCRUB_IMAGES_PER_RUN must be at least 1.")
CELERY_TASK_ROUTES = {"images.*": {"queue": "images"}}
CELERY_BEAT_SCHEDULE["images-sweep"] = {"task": "images.sweep", "schedule": IMAGE_SWEEP_INTERVAL}
CELERY_BEAT_SCHEDULE["images-expire-uploads"] = {
    "task": "images.expire_uploads",
    "schedule": IMAGE_UPLOAD_EXPIRY_CHECK,
}
if IMAGE_SCRUB_INTERVAL:
    CELERY_BEAT_SCHEDULE["images-scrub"] = {"task": "images.scrub", "schedule": IMAGE_SCRUB_INTERVAL}

# --- Compute: virt drivers ---
# Which hypervisor driver the compute agent uses: "qemu" (real guests) or "fake" (no processes).
VIRT_DRIVER = _read("str", "STRATUS_VIRT_DRIVER", "qemu")
if VIRT_DRIVER not in ("qemu", "fake"):
    raise ImproperlyConfigured(f"STRATUS_VIRT_DRIVER={VIRT_DRIVER!r} must be qemu or fake.")
# Per-host state: instance dirs (spec, console log, sockets, pid) and the base image cache.
# Absolute, as every file name handed to qemu-img must be.
COMPUTE_STATE_DIR = (
    Path(_read("str", "STRATUS_COMPUTE_STATE_DIR", str(DATA_DIR / "compute"))).expanduser().resolve()
)
# Empty: qemu-system-<arch> from PATH.
QEMU_BINARY = _read("str", "STRATUS_QEMU_BINARY", "")
# auto: KVM when /dev/kvm really works, else TCG; kvm/tcg force one (kvm fails if unusable).
QEMU_ACCEL = _read("str", "STRATUS_QEMU_ACCEL", "auto")
if QEMU_ACCEL not in ("auto", "kvm", "tcg"):
    raise ImproperlyConfigured(f"STRATUS_QEMU_ACCEL={QEMU_ACCEL!r} must be auto, kvm or tcg.")
OVMF_CODE = _read("str", "STRATUS_OVMF_CODE", "/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = _read("str", "STRATUS_OVMF_VARS", "/usr/share/OVMF/OVMF_VARS_4M.fd")

# --- Compute: hosts, scheduler, instances ---
# A host whose agent has not sent a heartbeat for this many seconds is down (not scheduled to).
COMPUTE_HEARTBEAT_INTERVAL = _read("float", "STRATUS_COMPUTE_HEARTBEAT_INTERVAL", 10.0)
COMPUTE_HOST_DOWN_AFTER = _read("int", "STRATUS_HOST_DOWN_AFTER", 60)
if COMPUTE_HOST_DOWN_AFTER <= COMPUTE_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("STRATUS_HOST_DOWN_AFTER must exceed STRATUS_COMPUTE_HEARTBEAT_INTERVAL.")
# Overcommit, copied onto a host when its agent registers (Nova's initial allocation ratios).
COMPUTE_CPU_ALLOCATION_RATIO = _read("float", "STRATUS_CPU_ALLOCATION_RATIO", 4.0)
COMPUTE_RAM_ALLOCATION_RATIO = _read("float", "STRATUS_RAM_ALLOCATION_RATIO", 1.0)
COMPUTE_DISK_ALLOCATION_RATIO = _read("float", "STRATUS_DISK_ALLOCATION_RATIO", 1.0)
# Memory kept back for the host itself (Nova's reserved_host_memory_mb).
COMPUTE_RESERVED_HOST_MEMORY_MB = _read("int", "STRATUS_RESERVED_HOST_MEMORY_MB", 512)
# Per-project private networks: one /24 each, carved out of this pool.
COMPUTE_NETWORK_POOL = _read("str", "STRATUS_NETWORK_POOL", "10.100.0.0/16")
# How instances are networked on a compute host: "bridge" (a Linux bridge per project network,
# DHCP from the host, isolation and NAT by nftables: the agent must be root or hold CAP_NET_ADMIN),
# "user" (QEMU user networking: the guest reaches out, nothing reaches in), or "auto" (bridge where
# the host allows it, else user, and the Hypervisors page says why).
COMPUTE_NETWORKING = _read("str", "STRATUS_COMPUTE_NETWORKING", "auto")
if COMPUTE_NETWORKING not in ("auto", "bridge", "user"):
    raise ImproperlyConfigured(
        f"STRATUS_COMPUTE_NETWORKING={COMPUTE_NETWORKING!r} must be auto, bridge or user."
    )
# Bridge mode: guests' traffic to other networks leaves masqueraded behind the host's address.
COMPUTE_NETWORK_MASQUERADE = _read("bool", "STRATUS_COMPUTE_NETWORK_MASQUERADE", True)
# Bridge mode: a guest's request to 169.254.169.254:80 goes to this port on its network's gateway.
METADATA_PORT = _read("int", "STRATUS_METADATA_PORT", 8775)
# Port forwards (an instance's public endpoint): host ports from this range, on this address of the
# compute host. 127.0.0.1 exposes nothing beyond the host until an operator chooses an address.
PORT_FORWARD_RANGE = _read("str", "STRATUS_PORT_FORWARD_RANGE", "20000-20999")
try:
    PORT_FORWARD_FIRST, PORT_FORWARD_LAST = (int(p) for p in PORT_FORWARD_RANGE.split("-"))
except ValueError as exc:
    raise ImproperlyConfigured(
        f"STRATUS_PORT_FORWARD_RANGE={PORT_FORWARD_RANGE!r} must be FIRST-LAST."
    ) from exc
if not 1 <= PORT_FORWARD_FIRST <= PORT_FORWARD_LAST <= 65535:
    raise ImproperlyConfigured(f"STRATUS_PORT_FORWARD_RANGE={PORT_FORWARD_RANGE!r} must lie within 1-65535.")
PORT_FORWARD_BIND_ADDRESS = _read("str", "STRATUS_PORT_FORWARD_BIND_ADDRESS", "127.0.0.1")
# The host name users are told to connect to (the ssh line); empty: the bind address.
PORT_FORWARD_PUBLIC_HOST = _read("str", "STRATUS_PORT_FORWARD_PUBLIC_HOST", "")
# Default per-project quotas (-1 = unlimited); per-project overrides live in the database.
COMPUTE_QUOTA_INSTANCES = _read("int", "STRATUS_QUOTA_INSTANCES", 10)
COMPUTE_QUOTA_CORES = _read("int", "STRATUS_QUOTA_CORES", 20)
COMPUTE_QUOTA_RAM = _read("int", "STRATUS_QUOTA_RAM", 51200)
# Key pairs per user (Nova's default quota).
COMPUTE_QUOTA_KEY_PAIRS = _read("int", "STRATUS_QUOTA_KEY_PAIRS", 100)
# Server groups per project, and instances per server group (Nova's defaults).
COMPUTE_QUOTA_SERVER_GROUPS = _read("int", "STRATUS_QUOTA_SERVER_GROUPS", 10)
COMPUTE_QUOTA_SERVER_GROUP_MEMBERS = _read("int", "STRATUS_QUOTA_SERVER_GROUP_MEMBERS", 10)
# Seconds a shelved instance keeps its host before it is offloaded (Nova's shelved_offload_time):
# 0 offloads at once, -1 never (only the shelveOffload action does).
COMPUTE_SHELVED_OFFLOAD_TIME = _read("int", "STRATUS_SHELVED_OFFLOAD_TIME", 0)
if COMPUTE_SHELVED_OFFLOAD_TIME < -1:
    raise ImproperlyConfigured("STRATUS_SHELVED_OFFLOAD_TIME must be -1, 0 or a number of seconds.")
# Metadata items per server (Nova's metadata_items quota, /limits maxServerMeta; -1 = unlimited).
COMPUTE_QUOTA_METADATA_ITEMS = _read("int", "STRATUS_QUOTA_METADATA_ITEMS", 128)
# The largest user data a server may carry, base64-encoded (Nova's limit).
COMPUTE_USER_DATA_MAX_BYTES = 65535
# Give every instance a config drive, whether its user asks or not (Nova's force_config_drive).
COMPUTE_FORCE_CONFIG_DRIVE = _read("bool", "STRATUS_FORCE_CONFIG_DRIVE", False)
# Seconds a guest gets to power down cleanly (stop, soft reboot) before it is forced.
COMPUTE_SHUTDOWN_TIMEOUT = _read("float", "STRATUS_COMPUTE_SHUTDOWN_TIMEOUT", 60.0)
# A build not finished after this long goes to ERROR (0 disables; Nova's default is off, ours on).
COMPUTE_BUILD_TIMEOUT = _read("int", "STRATUS_COMPUTE_BUILD_TIMEOUT", 1800)
# Any other task state older than this is stuck: the instance goes to ERROR with a fault.
COMPUTE_TASK_TIMEOUT = _read("int", "STRATUS_COMPUTE_TASK_TIMEOUT", 3600)
# How often every host compares its guests with the database, and prunes its image cache.
COMPUTE_SYNC_INTERVAL = _read("float", "STRATUS_COMPUTE_SYNC_INTERVAL", 60.0)
COMPUTE_CACHE_PRUNE_INTERVAL = _read("float", "STRATUS_COMPUTE_CACHE_PRUNE_INTERVAL", 3600.0)
# Cached base images no instance on the host uses are removed after this many seconds unused.
COMPUTE_IMAGE_CACHE_MAX_AGE = _read("int", "STRATUS_IMAGE_CACHE_MAX_AGE", 24 * 3600)
# Parallel tasks per compute agent (threads: QEMU runs detached, the work is mostly waiting).
COMPUTE_AGENT_CONCURRENCY = _read("int", "STRATUS_COMPUTE_AGENT_CONCURRENCY", 4)
# How long the API waits for an agent's answer (console output).
COMPUTE_RPC_TIMEOUT = _read("float", "STRATUS_COMPUTE_RPC_TIMEOUT", 30.0)
# Resize (Nova's allow_resize_to_same_host and resize_confirm_window): whether the scheduler may
# pick the instance's own host, and after how many seconds a resize nobody confirmed or reverted is
# confirmed by the periodic sync (0: never).
COMPUTE_ALLOW_RESIZE_TO_SAME_HOST = _read("bool", "STRATUS_ALLOW_RESIZE_TO_SAME_HOST", False)
COMPUTE_RESIZE_CONFIRM_WINDOW = _read("int", "STRATUS_RESIZE_CONFIRM_WINDOW", 0)
if COMPUTE_RESIZE_CONFIRM_WINDOW < 0:
    raise ImproperlyConfigured("STRATUS_RESIZE_CONFIRM_WINDOW must be 0 (off) or a number of seconds.")
# Cold migration between hosts that share no file system: the agent serves the disks of instances
# moving away on this HOST:PORT (port 0: any free one; requests are signed with SECRET_KEY), and
# other hosts reach it at STRATUS_COMPUTE_TRANSFER_ADDRESS (empty: the listen address).
COMPUTE_TRANSFER_LISTEN = _read("str", "STRATUS_COMPUTE_TRANSFER_LISTEN", "127.0.0.1:0")
COMPUTE_TRANSFER_ADDRESS = _read("str", "STRATUS_COMPUTE_TRANSFER_ADDRESS", "")
for _name, _value in (("LISTEN", COMPUTE_TRANSFER_LISTEN), ("ADDRESS", COMPUTE_TRANSFER_ADDRESS)):
    _host, _, _transfer_port = _value.rpartition(":")
    if _value and not (_host and _transfer_port.isdigit() and int(_transfer_port) < 65536):
        raise ImproperlyConfigured(f"STRATUS_COMPUTE_TRANSFER_{_name}={_value!r} must be HOST:PORT.")
# Where a compute agent gets image data: "store" reads the image store itself (a filesystem store
# it shares, or S3); "api" streams it from the controller's image API (GET /v2/images/{id}/file at
# STRATUS_CONTROLLER_URL); "auto" reads a filesystem store where its file is visible here, any
# other store directly, and falls back to the API when the file is not on this machine.
COMPUTE_IMAGE_SOURCE = _read("str", "STRATUS_COMPUTE_IMAGE_SOURCE", "auto")
if COMPUTE_IMAGE_SOURCE not in ("auto", "store", "api"):
    raise ImproperlyConfigured(
        f"STRATUS_COMPUTE_IMAGE_SOURCE={COMPUTE_IMAGE_SOURCE!r} must be auto, store or api."
    )
CONTROLLER_URL = _read("str", "STRATUS_CONTROLLER_URL", "").rstrip("/")
if CONTROLLER_URL and urlsplit(CONTROLLER_URL).scheme not in ("http", "https"):
    raise ImproperlyConfigured(
        f"STRATUS_CONTROLLER_URL={CONTROLLER_URL!r} must start with http:// or https://."
    )
if COMPUTE_IMAGE_SOURCE == "api" and not CONTROLLER_URL:
    raise ImproperlyConfigured("STRATUS_COMPUTE_IMAGE_SOURCE=api needs STRATUS_CONTROLLER_URL.")
# Live migration: the IP address of this compute host on which a guest arriving from another host
# is received (QEMU's NBD server for its disks and its migration listener, on ports chosen at run
# time). Other compute hosts must reach it; the streams are not authenticated, so it belongs on a
# network only compute hosts share (Nova's live_migration_inbound_addr).
LIVE_MIGRATION_ADDRESS = _read("str", "STRATUS_LIVE_MIGRATION_ADDRESS", "127.0.0.1")
try:
    ipaddress.ip_address(LIVE_MIGRATION_ADDRESS)
except ValueError:
    raise ImproperlyConfigured(
        f"STRATUS_LIVE_MIGRATION_ADDRESS={LIVE_MIGRATION_ADDRESS!r} must be an IP address."
    ) from None
# How long the copy of a guest's disks and memory may take before it is given up (the guest then
# keeps running where it was).
LIVE_MIGRATION_TIMEOUT = _read("float", "STRATUS_LIVE_MIGRATION_TIMEOUT", 600.0)
if LIVE_MIGRATION_TIMEOUT <= 0:
    raise ImproperlyConfigured("STRATUS_LIVE_MIGRATION_TIMEOUT must be positive.")
CELERY_BEAT_SCHEDULE["compute-sync"] = {"task": "instances.sync_hosts", "schedule": COMPUTE_SYNC_INTERVAL}

# --- Volumes (the Cinder subset) ---
# Where volume files live; share this directory between compute hosts to attach anywhere.
VOLUMES_DIR = Path(_read("str", "STRATUS_VOLUMES_DIR", str(DATA_DIR / "volumes"))).expanduser().resolve()
# File format of new volumes: qcow2 (sparse, the default) or raw.
VOLUME_FORMAT = _read("str", "STRATUS_VOLUME_FORMAT", "qcow2")
if VOLUME_FORMAT not in ("qcow2", "raw"):
    raise ImproperlyConfigured(f"STRATUS_VOLUME_FORMAT={VOLUME_FORMAT!r} must be qcow2 or raw.")
# Default per-project volume quotas (-1 = unlimited); overrides live in the database.
VOLUME_QUOTA_VOLUMES = _read("int", "STRATUS_QUOTA_VOLUMES", 10)
VOLUME_QUOTA_GIGABYTES = _read("int", "STRATUS_QUOTA_GIGABYTES", 1000)
VOLUME_QUOTA_PER_VOLUME_GIGABYTES = _read("int", "STRATUS_QUOTA_PER_VOLUME_GIGABYTES", -1)
# The largest volume one request may create or extend to, in GiB.
VOLUME_MAX_SIZE_GB = _read("int", "STRATUS_VOLUME_MAX_SIZE_GB", 1024)
# The image's own fields a volume made from it records (Cinder's glance_core_properties); they
# describe the source image, so they are not handed on as properties of an image made from the volume.
VOLUME_IMAGE_CORE_PROPERTIES = (
    "checksum",
    "container_format",
    "disk_format",
    "image_name",
    "image_id",
    "min_disk",
    "min_ram",
    "size",
)
# Image properties copied into a volume made from an image: the core ones, plus the ones that say
# how to boot it.
VOLUME_IMAGE_PROPERTIES = _read(
    "list",
    "STRATUS_VOLUME_IMAGE_PROPERTIES",
    [
        *VOLUME_IMAGE_CORE_PROPERTIES,
        "architecture",
        "hw_*",
        "os_distro",
        "os_version",
    ],
)
# A volume in a transitional status (creating, attaching …) for longer than this is stuck: the
# sweeper moves it back to its previous status, or to error.
VOLUME_TASK_TIMEOUT = _read("int", "STRATUS_VOLUME_TASK_TIMEOUT", 3600)
CELERY_BEAT_SCHEDULE["volume-sweep"] = {"task": "instances.sweep_volumes", "schedule": 300.0}

# --- Consoles: noVNC in the browser, through the console proxy (`manage.py console_proxy`) ---
# How long a console token (the credential in a console URL) can be used to connect, in seconds.
# An open console is not cut when its token expires; it closes when the instance stops or goes.
CONSOLE_TOKEN_TTL = _read("int", "STRATUS_CONSOLE_TOKEN_TTL", 600)
if CONSOLE_TOKEN_TTL < 1:
    raise ImproperlyConfigured("STRATUS_CONSOLE_TOKEN_TTL must be at least 1 second.")
# Where the proxy listens for browsers' websockets (Nova's novncproxy port by default).
CONSOLE_PROXY_BIND = _read("str", "STRATUS_CONSOLE_PROXY_BIND", os.environ.get("STRATUS_BIND", "127.0.0.1"))
CONSOLE_PROXY_PORT = _read("int", "STRATUS_CONSOLE_PROXY_PORT", 6080)
if not 0 < CONSOLE_PROXY_PORT < 65536:
    raise ImproperlyConfigured(
        f"STRATUS_CONSOLE_PROXY_PORT={CONSOLE_PROXY_PORT} is not a TCP port (1-65535)."
    )
# A PEM file with the certificate and its key: the proxy then also takes wss:// itself (else terminate
# TLS in front of it).
CONSOLE_PROXY_CERT = _read("str", "STRATUS_CONSOLE_PROXY_CERT", "")
# The websocket URL browsers reach the proxy at (ws:// or wss://, e.g. behind a TLS proxy, or a path the
# web server forwards). Empty: ws(s)://<the host the page was served from>:<CONSOLE_PROXY_PORT>/.
CONSOLE_PUBLIC_URL = _read("str", "STRATUS_CONSOLE_PUBLIC_URL", "")
if CONSOLE_PUBLIC_URL and urlsplit(CONSOLE_PUBLIC_URL).scheme not in ("ws", "wss"):
    raise ImproperlyConfigured(
        f"STRATUS_CONSOLE_PUBLIC_URL={CONSOLE_PUBLIC_URL!r} must start with ws:// or wss://."
    )
# How often an open console checks that its token still stands and its instance still runs.
CONSOLE_RECHECK_INTERVAL = _read("float", "STRATUS_CONSOLE_RECHECK_INTERVAL", 2.0)
if CONSOLE_RECHECK_INTERVAL <= 0:
    raise ImproperlyConfigured("STRATUS_CONSOLE_RECHECK_INTERVAL must be positive.")
# Compute hosts: the address:port on which the agent serves its guests' VNC to console proxies on
# other machines (each connection must present a valid console token). Empty: only a proxy on the
# same machine reaches the guests, through their unix sockets.
CONSOLE_VNC_LISTEN = _read("str", "STRATUS_CONSOLE_VNC_LISTEN", "")
# The address:port proxies connect to (a host name or address they can reach); empty: the listen address.
CONSOLE_VNC_ADDRESS = _read("str", "STRATUS_CONSOLE_VNC_ADDRESS", "") or CONSOLE_VNC_LISTEN
for _name, _value in (("LISTEN", CONSOLE_VNC_LISTEN), ("ADDRESS", CONSOLE_VNC_ADDRESS)):
    _host, _, _vnc_port = _value.rpartition(":")
    if _value and not (_host and _vnc_port.isdigit() and 0 < int(_vnc_port) < 65536):
        raise ImproperlyConfigured(f"STRATUS_CONSOLE_VNC_{_name}={_value!r} must be HOST:PORT.")
# What tells this machine from others (a proxy uses a compute host's unix sockets only on the host's
# own machine). Empty: /etc/machine-id and the host name.
MACHINE_ID = _read("str", "STRATUS_MACHINE_ID", "")
