"""Gunicorn settings: ``gunicorn -c config/gunicorn.conf.py config.wsgi:application``.

Everything is read from the environment so one image serves every size of site:
WEB_CONCURRENCY (workers, default 2 x CPUs + 1), GUNICORN_THREADS, GUNICORN_BIND,
GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS, GUNICORN_PRELOAD (1/0), FORWARDED_ALLOW_IPS (addresses of the TLS proxy whose
X-Forwarded-* headers are believed). The access log is one JSON object a line
on stdout, without the query string: searches may carry names or numbers. Every
line of both gunicorn logs goes through the application's masking filter
(enrollment.logging): the coverage API carries an identity number in its path.
"""

import datetime
import json
import multiprocessing
import os

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never takes the site down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
# Workers fork from a master that has already imported Django and the project:
# a worker recycled after max_requests starts in milliseconds instead of
# spending a second of CPU on imports while the others carry its load.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") == "1"
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Heartbeat files on a memory file system: a container's overlay disk can stall workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


class JsonAccessLogger(Logger):
    """Access lines as JSON, matching the application's JSON log lines; both logs masked like the application's."""

    def setup(self, cfg):
        super().setup(cfg)
        # Imported here: the project directory is on sys.path only once gunicorn has loaded this file.
        from enrollment.logging import RedactPersonalDataFilter

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactPersonalDataFilter) for f in handler.filters):
                    handler.addFilter(RedactPersonalDataFilter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "asctime": datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "levelname": "INFO",
            "name": "gunicorn.access",
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        }
        try:
            self.access_log.info(json.dumps(line, ensure_ascii=False))
        except Exception:  # a log line must never fail a request
            self.exception("access log line failed")


logger_class = JsonAccessLogger
