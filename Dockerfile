# syntax=docker/dockerfile:1
# sanctions-bot: one image for every role (`run --role ingest|deliver|bot|all`); compose.yaml
# runs it on PostgreSQL. See README, "Running in containers".
#
# Two stages because normality and countrynames need PyICU, which PyPI has only as source: it is
# compiled against libicu-dev in the first stage, and the image keeps only the ICU runtime
# library. Debian bookworm is named so that library's name (libicu72) cannot change under us.

FROM python:3.11-slim-bookworm AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libicu-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# The dependencies first, from pyproject.toml alone, so a code change does not rebuild them.
COPY pyproject.toml README.md /src/
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--wheel-dir', '/wheels/deps', *deps], check=True)"
COPY bot /src/bot
COPY db /src/db
RUN pip wheel --no-deps --wheel-dir /wheels/app /src

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu72 \
    && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_CACHE_DIR=1
# Installed from the first stage's wheels through bind mounts: no wheel is left in a layer.
RUN --mount=type=bind,from=wheels,source=/wheels/deps,target=/wheels/deps \
    pip install --no-index --find-links=/wheels/deps /wheels/deps/*.whl
RUN --mount=type=bind,from=wheels,source=/wheels/app,target=/wheels/app \
    pip install --no-index --no-deps /wheels/app/*.whl
# Rule files are read from a folder, not from the package.
COPY rules /app/rules
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home sanctions \
    && install -d -o sanctions -g sanctions /var/lib/sanctions-bot
ENV RULES_DIR=/app/rules DATA_DIR=/var/lib/sanctions-bot
WORKDIR /app
USER sanctions
ENTRYPOINT ["sanctions-bot"]
CMD ["run"]
