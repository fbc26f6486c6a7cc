# The Gatehouse application image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    # Templates and static files live beside the packages in /app, so the source tree comes
    # first on the path and `pip install .` provides the dependencies.
    PYTHONPATH=/app

WORKDIR /app

RUN groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid gatehouse --home-dir /app --shell /usr/sbin/nologin gatehouse \
    && mkdir -p /data \
    && chown gatehouse:gatehouse /data

COPY pyproject.toml README.md ./
COPY index_site ./index_site
COPY accounts ./accounts
COPY projects ./projects
COPY tokens ./tokens
COPY publishing ./publishing
COPY auditlog ./auditlog
RUN pip install .

COPY manage.py gunicorn.conf.py ./
COPY templates ./templates
COPY static ./static
# collectstatic only needs the settings to load: a throwaway key, never used at run time.
RUN SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput

USER gatehouse
VOLUME ["/data"]
EXPOSE 8000

# Liveness only: an orchestrator that restarts unhealthy containers must not restart every web
# process because the database is down. /_/health is the readiness check (README).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/_/health/live', timeout=4)"]

CMD ["gunicorn", "index_site.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--forwarded-allow-ips", "*"]
