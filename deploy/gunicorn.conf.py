"""gunicorn for one copy of the site in the production topology (deploy/topology.py).

Sync workers, one per core and one more: the site's requests are short and database-bound.
On SIGTERM a copy stops accepting, answers what it has (``graceful_timeout``) and exits;
HAProxy sends new requests to the other copies meanwhile.
"""

import multiprocessing

workers = int(__import__("os").environ.get("SITE_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "sync"
timeout = 60
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
# Only HAProxy, on this machine, sets X-Forwarded-*.
forwarded_allow_ips = "127.0.0.1"
