# One image for the web site, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    PRIVATE_MEDIA_ROOT=/data/private \
    GRADUATE_FEED_INBOX=/data/inbox/graduates

# CJK fonts: the printed rights records and vouchers embed them (nothing is fetched at run time).
# postgresql-client: scripts/backup.sh and restore.sh run from this image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei fonts-hanazono postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
    && SECRET_KEY=collectstatic-only DATABASE_URL=postgres://collectstatic@127.0.0.1/unused \
       REDIS_URL=redis://127.0.0.1:6379/0 python manage.py collectstatic --no-input

# Uploaded files and generated batch files hold personal data: a volume outside the web root, not the image.
RUN useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /data/private /data/inbox/graduates \
    && chown -R app:app /data
USER app
VOLUME ["/data"]

EXPOSE 8000
# Sizing and the trusted proxy addresses come from the environment (config/gunicorn.conf.py).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
