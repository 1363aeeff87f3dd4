"""gunicorn settings for the web process: threads, no request-size cap, logs to stdout."""

import os

# honcho gives every process its own PORT, so the web port travels as STRATUS_WEB_PORT.
_port = int(os.environ.get("STRATUS_WEB_PORT") or os.environ.get("PORT", "8000"))
bind = f"{os.environ.get('STRATUS_BIND', '127.0.0.1')}:{_port}"
worker_class = "gthread"
workers = int(os.environ.get("STRATUS_WEB_WORKERS", "2"))
threads = int(os.environ.get("STRATUS_WEB_THREADS", "8"))
# Uploads of several GB take long; the gthread worker heartbeats independently of requests.
timeout = 120
graceful_timeout = 20
# Longer than any client's polling interval: the openstack CLI's --wait polls every 5 s, and a
# 5 s keep-alive closed the connection just as the next poll was sent on it (connection reset).
# The gthread worker keeps idle connections in its poller, not in a thread.
keepalive = 75
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("STRATUS_FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True
