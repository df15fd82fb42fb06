"""Quantsite settings: one module, driven by environment variables.

With nothing set, the site runs on its embedded defaults (SQLite, Celery tasks inline, console
email, an OIDC signing key under ``var/`` made by ``manage.py create_oidc_key``). Environment
variables switch to real services: ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL`` (Celery broker
and a real worker). ``PRODUCTION=1`` turns on the checks in ``quantsite/checks.py``, which refuse
to start without a secret key, on SQLite, or without an OIDC key from the environment.

Every variable is listed in README.md.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import botocore.config
import environ
from csp import constants as csp_constants

from quantsite.keys import rsa_private_key_lazy

# ------------------------------------------------------------------------------
# Environment variables (django-environ)
# https://django-environ.readthedocs.io/en/latest/types.html
# ------------------------------------------------------------------------------
env = environ.Env()
# Values are read literally: django-environ takes a value that starts with "$" as the name of
# another variable (its proxy values), and a random SECRET_KEY may start so; every "$" is
# escaped here and unescaped by the reader (escape_proxy). An empty variable counts as unset
# (a shell's `NAME= command`), so it gets the default, as it always has here.
env.escape_proxy = True
env.ENVIRON = {name: value.replace("$", r"\$") for name, value in os.environ.items() if value}

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state of the embedded default: SQLite database, signing key. Git-ignored.
VAR_DIR = Path(env.str("QUANTSITE_VAR_DIR", default=str(BASE_DIR / "var")))

# ------------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# ------------------------------------------------------------------------------
PRODUCTION = env.bool("PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)

# Checked in production by quantsite.checks: the development key below must never serve users.
SECRET_KEY_FROM_ENV = "SECRET_KEY" in env
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-never-use-in-production")

# The site's public origin, as browsers and hubs reach it (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
# Comma-separated lists; spaces around the commas are dropped.
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    cast=str.strip,
    default=[_site.hostname or "127.0.0.1", "127.0.0.1", "localhost"],
)
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", cast=str.strip, default=[f"{_site.scheme}://{_site.netloc}"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "oauth2_provider",
    "axes",
    "csp",
    "django_htmx",
    "quantsite.accounts",
    "research",
    "community",
]

MIDDLEWARE = [
    # First (outermost), so that it counts and times every answer, the fast path's included.
    "quantsite.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "quantsite.middleware.RequestEncodingMiddleware",
    "quantsite.errors.DatabaseUnavailableMiddleware",
    "quantsite.middleware.RejectNulBytesMiddleware",
    # Hubs' heartbeats and bearer-token locates, answered before the middleware below
    # (research/api/fast_path.py); anything it does not answer 200 goes on to the API view.
    "research.api.fast_path.HubApiFastPath",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every Content-Security-Policy header (CONTENT_SECURITY_POLICY below; views that need
    # another policy say so with django-csp's decorators), with the user's hub in frame-src.
    "quantsite.middleware.SiteCSPMiddleware",
    # request.htmx: whether a request is the site's own soft navigation.
    "django_htmx.middleware.HtmxMiddleware",
    # request.research_shell: the user's hub and pre-start, for pages that render the shell.
    "research.shell.ResearchShellMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "quantsite.urls"
WSGI_APPLICATION = "quantsite.wsgi.application"

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
                "quantsite.context_processors.navigation",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database: PostgreSQL from DATABASE_URL, SQLite under var/ otherwise
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
# ------------------------------------------------------------------------------
if "DATABASE_URL" in env:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with the health check only for a connection idle a while
        # (quantsite/db/postgresql: DATABASE_HEALTH_CHECK_IDLE below).
        DATABASES["default"]["ENGINE"] = "quantsite.db.postgresql"
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # Send parameters apart from the SQL text (psycopg 3): a 10 MB notebook goes over as
        # bytes instead of being escaped into the statement, and statements can be prepared.
        options["server_side_binding"] = True
        # Prepared statements: a statement run this many times on a connection is prepared
        # there (parsed and planned once); "off" for a pooler that cannot keep them
        # (PgBouncer's transaction pooling before 1.21). README, "Operations".
        # https://www.psycopg.org/psycopg3/docs/advanced/prepare.html
        _prepare = env.str("DATABASE_PREPARE_THRESHOLD", default="5").strip().lower()
        options["prepare_threshold"] = None if _prepare == "off" else int(_prepare)
        # Behind a transaction pooler (PgBouncer, pool_mode=transaction) a cursor cannot
        # outlive its transaction: Django then reads .iterator() querysets client-side.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#transaction-pooling-server-side-cursors
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
            "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
        )
        # Django's own connection pool (psycopg_pool), DATABASE_POOL_SIZE connections at most
        # per process; 0 keeps one persistent connection per thread instead (the default,
        # measured in bench/RESULTS.md). A pool needs CONN_MAX_AGE=0.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
        _pool_size = env.int("DATABASE_POOL_SIZE", default=0)
        if _pool_size:
            options["pool"] = {"min_size": 1, "max_size": _pool_size, "timeout": 10}
    DATABASES["default"]["CONN_MAX_AGE"] = (
        0
        if "pool" in DATABASES["default"].get("OPTIONS", {})
        else env.int("DATABASE_CONN_MAX_AGE", default=60)
    )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # The embedded database, stored notebooks and the signing key live here: this account's
    # only, whatever the umask (other local accounts, users' servers among them, read nothing).
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if VAR_DIR.stat().st_uid == os.geteuid():
        VAR_DIR.chmod(0o700)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Wait for a concurrent writer instead of failing at once (runserver + worker), and
            # take the write lock when a transaction starts, so transactions that read, then
            # write, serialize instead of failing on a stale snapshot.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # Tests run a live server and real hubs against the test database: a file, not
            # shared-cache memory (whose table locks fail at once instead of waiting).
            "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# While the database is unreachable every request answers 503 with this Retry-After (seconds).
DATABASE_RETRY_AFTER = env.int("DATABASE_RETRY_AFTER", default=5)
# A persistent connection used less than this many seconds ago is reused without Django's
# health check (a SELECT 1 round trip); one idle longer is checked first. 0 checks always.
DATABASE_HEALTH_CHECK_IDLE = env.float("DATABASE_HEALTH_CHECK_IDLE", default=1.0)

# ------------------------------------------------------------------------------
# Health: /healthz (liveness, touches nothing) and /readyz (readiness: the database must answer
# within READYZ_TIMEOUT seconds; Redis and S3, each with its own timeout, are only reported)
# ------------------------------------------------------------------------------
READYZ_TIMEOUT = env.float("READYZ_TIMEOUT", default=1.5)

# ------------------------------------------------------------------------------
# Accounts and authentication
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out account or address before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # OAuth client secrets only (OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]); never passwords.
    "quantsite.accounts.hashers.ClientSecretHasher",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Failed-login rate limiting: a username is locked for one address after AXES_FAILURE_LIMIT
# failures there, and an address for every username after AXES_ADDRESS_FAILURE_LIMIT, for
# AXES_COOLOFF_MINUTES (quantsite.accounts.lockout). Nobody can lock a username out from
# elsewhere. https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "quantsite.accounts.lockout.LockoutHandler"
# The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front (the load
# balancer, ...), the address the outermost one saw, from X-Forwarded-For. 0 ignores that
# header, which any client can send.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "quantsite.accounts.lockout.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_VERBOSE = False

# ------------------------------------------------------------------------------
# OAuth2 / OpenID Connect provider (django-oauth-toolkit)
# https://django-oauth-toolkit.readthedocs.io/en/latest/settings.html
# ------------------------------------------------------------------------------
# The RSA key that signs ID tokens: PEM text from the environment, or, in the embedded
# default only, the file `manage.py create_oidc_key` makes (`make run` runs it), read on first
# use (quantsite.keys; quantsite.checks warns at start when it is missing).
OIDC_KEY_PATH = VAR_DIR / "oidc-rsa-key.pem"
OIDC_KEY_FROM_ENV = "OIDC_RSA_PRIVATE_KEY" in env
if OIDC_KEY_FROM_ENV:
    OIDC_RSA_PRIVATE_KEY = env.str("OIDC_RSA_PRIVATE_KEY")
elif PRODUCTION:
    OIDC_RSA_PRIVATE_KEY = ""  # quantsite.checks refuses to start
else:
    OIDC_RSA_PRIVATE_KEY = rsa_private_key_lazy(OIDC_KEY_PATH)

OAUTH_SCOPES = {
    "openid": "Know who you are on Quantsite",
    "profile": "See your username and name",
    "email": "See your email address",
    "notebooks": "Read and change the notebooks in your research space",
    "discovery": "Act as a research hub in discovery (hubs only)",
}
# What an application may ask for unless staff grant it more (accounts.ApplicationPolicy).
OAUTH_DEFAULT_ALLOWED_SCOPES = ["openid", "profile", "email"]

# Stock models; named so migrations can depend on them (they are swappable in the library).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_ISS_ENDPOINT": f"{SITE_URL}/o",
    # Authorization code only: no implicit or hybrid response types.
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "SCOPES": OAUTH_SCOPES,
    "DEFAULT_SCOPES": ["openid", "profile", "email"],
    "SCOPES_BACKEND_CLASS": "quantsite.accounts.oauth.ApplicationPolicyScopes",
    "OAUTH2_VALIDATOR_CLASS": "quantsite.accounts.oauth.OAuth2Validator",
    "OIDC_SERVER_CLASS": "quantsite.accounts.oauth.Server",
    "APPLICATION_ADMIN_CLASS": "quantsite.accounts.admin.ApplicationAdmin",
    "PKCE_REQUIRED": True,
    # Client secrets are long random strings: a keyed fast hash, not PBKDF2 (0.45 s a check).
    "CLIENT_SECRET_HASHER": "hmac_sha256",
    # Lifetimes: short-lived access, rotating refresh tokens that expire.
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=60 * 60),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=60 * 60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int(
        "OAUTH_REFRESH_TOKEN_SECONDS", default=14 * 24 * 60 * 60
    ),
    "ROTATE_REFRESH_TOKEN": True,
    # A used refresh token presented again revokes the whole token family (RFC 9700 4.14).
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["http", "https"],
    # RFC 9700 (OAuth 2.0 Security BCP): no implicit or password grant, S256 PKCE only, no
    # tokens in query strings, `iss` in authorization responses, tokens hashed at rest.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# ------------------------------------------------------------------------------
# APIs (Django REST framework, drf-spectacular)
# https://www.django-rest-framework.org/api-guide/settings/
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "quantsite.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["quantsite.api.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "quantsite.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "quantsite.api.exception_handler",
    # "?format=" belongs to Jupyter's contents API (text/base64), not to renderer selection.
    "URL_FORMAT_OVERRIDE": None,
}
# The largest JSON body an API takes (quantsite.api.JSONParser), unless the API carries whole
# files: the contents API takes NOTEBOOK_MAX_BODY_BYTES (the notebook storage block below,
# which also sets Django's own cap on a body read into memory from these two).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2 * 1024 * 1024)
# A gzip request body (accepted only by the contents and share APIs, after authentication) may
# inflate at most this many times the bytes sent (past its first megabyte), and never past the
# API's body limit. Deeper JSON than API_MAX_JSON_DEPTH is refused (parsers recurse).
API_GZIP_MAX_RATIO = env.int("API_GZIP_MAX_RATIO", default=200)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=100)
SPECTACULAR_SETTINGS = {
    "TITLE": "Quantsite API",
    "DESCRIPTION": "APIs of the Quantsite research platform. Bearer tokens come from /o/token/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "OAUTH2_FLOWS": ["authorizationCode", "clientCredentials"],
    "OAUTH2_AUTHORIZATION_URL": f"{SITE_URL}/o/authorize/",
    "OAUTH2_TOKEN_URL": f"{SITE_URL}/o/token/",
    "OAUTH2_REFRESH_URL": f"{SITE_URL}/o/token/",
    "OAUTH2_SCOPES": OAUTH_SCOPES,
}

# ------------------------------------------------------------------------------
# Celery: Redis broker from REDIS_URL, tasks inline otherwise
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Redis is a broker only: task outcomes live in PostgreSQL, so results are not stored.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing is bounded: with the broker down or hung, a web request that queues a task gives
# up within about two seconds (quantsite.tasks.enqueue_after_commit logs it; the periodic
# sweeps queue the work again), instead of waiting on kombu's default retries.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    # A Redis that accepts and never answers; longer than the worker's 1 s blocking poll.
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=2.0),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Two queues, so that renders never hold up bookkeeping: "celery" (the default) for the
# periodic bookkeeping and anything else, "render" for rendering shared notebooks, which can
# take seconds each and come in floods (a sweep queues up to 500). Workers name what they
# serve: `-Q celery` and `-Q render`, or `-Q celery,render` on a small site (quantsite/celery.py).
# https://docs.celeryq.dev/en/stable/userguide/routing.html
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"community.tasks.shared_notebook_render": {"queue": "render"}}
# A worker counts its tasks for /metrics (Celery signals, connected by quantsite.metrics).
CELERY_IMPORTS = ["quantsite.metrics"]
# Every task named here is a quantsite.tasks.BeatTask: a second beat running by mistake does
# not double the work (a Redis key per task, 0.9 of its period).
CELERY_BEAT_SCHEDULE = {
    "oauth-tokens-clear": {"task": "quantsite.accounts.tasks.oauth_tokens_clear", "schedule": 3600},
    "shared-notebook-render-sweep": {
        "task": "community.tasks.shared_notebook_render_sweep",
        "schedule": 60.0,
    },
    # Deletes shared-notebook files no version references (community.services.storage_sweep).
    "stored-objects-sweep": {
        "task": "community.tasks.stored_objects_sweep",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 60 * 60.0},  # a run a day late is just the next one
    },
    "discovery-bookkeeping": {
        "task": "research.tasks.discovery_bookkeeping",
        "schedule": env.float("DISCOVERY_BOOKKEEPING_INTERVAL", default=5.0),
        # A late run is useless once the next one is due.
        "options": {"expires": env.float("DISCOVERY_BOOKKEEPING_INTERVAL", default=5.0)},
    },
}

# ------------------------------------------------------------------------------
# Metrics: /metrics in Prometheus' text format (quantsite/metrics.py), for a scraper that
# sends "Authorization: Bearer <METRICS_TOKEN>"; with no token set, /metrics is a 404.
# Several processes per host (gunicorn workers, Celery's pool) share their counts through
# files when PROMETHEUS_MULTIPROC_DIR is set (read by prometheus_client itself).
# https://prometheus.github.io/client_python/multiprocess/
# ------------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# ------------------------------------------------------------------------------
# Discovery: hubs heartbeat; users go to the live hub with the fewest users
# See ARCHITECTURE.md, "Find my hub". Times in seconds.
# ------------------------------------------------------------------------------
DISCOVERY_HEARTBEAT_INTERVAL = env.float("DISCOVERY_HEARTBEAT_INTERVAL", default=1.0)
# After this long without a heartbeat a hub gets no new users (its users stay).
DISCOVERY_STALE_AFTER = env.float("DISCOVERY_STALE_AFTER", default=5.0)
# After this long it is dead: its assignments end and its users are placed elsewhere.
DISCOVERY_DEAD_AFTER = env.float("DISCOVERY_DEAD_AFTER", default=30.0)
# Seats of every hub kept free of new assignments (for staff moves and returning users).
DISCOVERY_HEADROOM = env.int("DISCOVERY_HEADROOM", default=0)
DISCOVERY_DEFAULT_CAPACITY = env.int("DISCOVERY_DEFAULT_CAPACITY", default=100)
# What the "no hub available" answers tell clients to wait before trying again.
DISCOVERY_RETRY_AFTER = env.int("DISCOVERY_RETRY_AFTER", default=5)
# An assignment on a live hub whose server has not run for this long ends (reason "idle"):
# counted from the server last seen running, else from the assignment's creation, the user's
# last request for their hub or their last pre-start. So stopped servers hold no seats.
DISCOVERY_IDLE_AFTER = env.float("DISCOVERY_IDLE_AFTER", default=600.0)
# How long a hub's heartbeat answer announces a user's site logout (its "logout" list).
DISCOVERY_LOGOUT_ANNOUNCE_SECONDS = env.float("DISCOVERY_LOGOUT_ANNOUNCE_SECONDS", default=120.0)
# Pre-starts per hub in any rolling minute, across every copy of the site (the database counts).
DISCOVERY_PRESTART_PER_MINUTE = env.int("DISCOVERY_PRESTART_PER_MINUTE", default=60)
# A pre-start takes a new seat only on a hub no fuller than this, counting that seat, of its
# seats beyond the headroom: the rest stay for people who open research themselves.
DISCOVERY_PRESTART_MAX_FILL = env.float("DISCOVERY_PRESTART_MAX_FILL", default=0.9)

# ------------------------------------------------------------------------------
# Research pre-start: a signed-in person's server starts when they load a site page, before
# they open /research, if they used research lately (research.services.prestart)
# ------------------------------------------------------------------------------
RESEARCH_PRESTART = env.bool("RESEARCH_PRESTART", default=True)
# "Lately": a server of theirs (one they started, not a pre-start) seen running this recently.
RESEARCH_PRESTART_RECENT_DAYS = env.float("RESEARCH_PRESTART_RECENT_DAYS", default=14.0)

# ------------------------------------------------------------------------------
# Notebook storage (research.services.notebooks; the API in research.api.contents)
# ------------------------------------------------------------------------------
# The largest file a user may store, in bytes of the file itself (before encryption).
NOTEBOOK_MAX_FILE_BYTES = env.int("NOTEBOOK_MAX_FILE_BYTES", default=50 * 1024 * 1024)
# The most a directory copy may duplicate at once, in bytes.
NOTEBOOK_MAX_COPY_BYTES = env.int("NOTEBOOK_MAX_COPY_BYTES", default=500 * 1024 * 1024)
# The most checkpoints a file keeps: a new one past it deletes the file's oldest, in the same
# transaction (the newest stay). 0: no cap.
NOTEBOOK_MAX_CHECKPOINTS = env.int("NOTEBOOK_MAX_CHECKPOINTS", default=20)
# The most a user may store, in bytes: their files, their checkpoints (they take room as files
# do) and staged upload chunks, logical sizes. A save, upload, copy, checkpoint or restore
# that adds bytes past it is refused (413, research.services.quota). 0: no quota.
NOTEBOOK_USER_QUOTA_BYTES = env.int("NOTEBOOK_USER_QUOTA_BYTES", default=1024 * 1024 * 1024)
# Master keys for encryption at rest (Fernet keys, newest first); empty: stored in plain text.
NOTEBOOK_ENCRYPTION_KEYS = env.list("NOTEBOOK_ENCRYPTION_KEYS", cast=str.strip, default=[])
# The largest body of a save through the contents API: a file at the size limit, base64 in
# JSON (4/3 of its bytes), with 64 KiB for the model around it. Derived, not a variable.
NOTEBOOK_MAX_BODY_BYTES = NOTEBOOK_MAX_FILE_BYTES * 4 // 3 + 64 * 1024
# Django's cap on a request body read into memory (forms, request.body), from the same two:
# nothing the APIs accept is refused before their own limit answers.
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, NOTEBOOK_MAX_BODY_BYTES)
# How long a user's server credential lives (it also ends with the user's assignment).
NOTEBOOK_SERVER_TOKEN_SECONDS = env.int("NOTEBOOK_SERVER_TOKEN_SECONDS", default=12 * 60 * 60)

# ------------------------------------------------------------------------------
# Email: console in the embedded default, SMTP from EMAIL_HOST. Production refuses to start
# with a backend that sends nothing (quantsite.checks): reset links must not go to logs.
# https://docs.djangoproject.com/en/5.2/topics/email/
# ------------------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
# EMAIL_BACKEND names another backend (a provider's API, say); otherwise SMTP with a host.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Quantsite <noreply@quantsite.local>")

# ------------------------------------------------------------------------------
# Static files (whitenoise)
# https://whitenoise.readthedocs.io/en/stable/django.html
# ------------------------------------------------------------------------------
# Shared notebooks (.ipynb, rendered HTML) go to the default storage: files under var/media
# in the embedded default.
MEDIA_ROOT = VAR_DIR / "media"
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Outside production, serve straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not PRODUCTION
# With S3_BUCKET set, shared notebooks go to S3 (django-storages + boto3); credentials come
# from the usual AWS_* variables or the instance's role. https://django-storages.readthedocs.io
S3_BUCKET = env.str("S3_BUCKET", default="")
# Every S3 call is bounded: a hung or refusing store fails the request within seconds (503
# with Retry-After) instead of holding a worker. django-storages takes this botocore Config for
# every S3 storage. https://docs.aws.amazon.com/botocore/latest/reference/config.html
AWS_S3_CONNECT_TIMEOUT = env.float("AWS_S3_CONNECT_TIMEOUT", default=2.0)
AWS_S3_READ_TIMEOUT = env.float("AWS_S3_READ_TIMEOUT", default=2.0)
AWS_S3_MAX_ATTEMPTS = env.int("AWS_S3_MAX_ATTEMPTS", default=2)  # the first try included
AWS_S3_CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=AWS_S3_CONNECT_TIMEOUT,
    read_timeout=AWS_S3_READ_TIMEOUT,
    retries={"total_max_attempts": AWS_S3_MAX_ATTEMPTS, "mode": "standard"},
    s3={"addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="auto")},
    signature_version="s3v4",
)
# What a 503 for a failed store tells clients to wait before trying again, in seconds.
STORAGE_RETRY_AFTER = env.int("STORAGE_RETRY_AFTER", default=30)
# The daily sweep (community.services.storage_sweep) deletes files under shared/ that no
# shared version references, once they are older than this: a share writes its file before
# its transaction commits the version that references it.
STORAGE_SWEEP_GRACE_SECONDS = env.int("STORAGE_SWEEP_GRACE_SECONDS", default=24 * 60 * 60)
if S3_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default="us-east-1"),
            "client_config": AWS_S3_CLIENT_CONFIG,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# ------------------------------------------------------------------------------
# Security
# https://docs.djangoproject.com/en/5.2/topics/security/
# ------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): one policy for the whole site, because the site is one
# document: links within it swap the page's content (htmx, templates/base.html) while the
# research frame lives on, and a document keeps the policy of the page it was first loaded as.
# Scripts run only by this response's nonce (the site's own files, never user markup, which
# has no nonce); the research frame may show the site and the user's hub (added per request
# by quantsite.middleware.SiteCSPMiddleware); images come from the site only; no plugins, no
# <base>, and no other site may frame ours (with X-Frame-Options: DENY, its older form).
# Documents of their own (rendered notebooks, user files, the admin) set theirs per view.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.NONCE],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "img-src": [csp_constants.SELF, "data:"],
        "style-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "frame-src": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _site.scheme == "https" or PRODUCTION
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    # Behind the TLS-terminating proxy, which must set (not pass on) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HTTPS only: plain-HTTP requests are redirected, except the health checks a load
    # balancer makes on the inside; browsers are told to use HTTPS for a year (HSTS).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# ------------------------------------------------------------------------------
# Internationalization
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Logging: everything to stderr, where the process manager collects it
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # runserver's access log without the hubs' heartbeats (one a second per hub; kept at DEBUG)
    "filters": {"quiet_heartbeats": {"()": "quantsite.log_filters.QuietHeartbeats"}},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["quiet_heartbeats"],
        },
    },
}
