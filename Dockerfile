# One image for web, worker and scheduler (docker-compose.yml picks the command).

# The browser app, built once; only its dist/ reaches the image.
FROM node:20-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm install --no-save
COPY frontend ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 \
    ARTIFACT_ROOT=/data/artifacts LABELOPS_VAR_DIR=/data/var

WORKDIR /app
# The CPU build of torch first: from PyPI, `torch` resolves to a CUDA build of several GB.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY labelops ./labelops
COPY ssl_engine ./ssl_engine
COPY manage.py ./
COPY fixtures ./fixtures
COPY --from=frontend /frontend/dist ./frontend/dist
RUN pip install . && useradd --create-home labelops && mkdir -p /data && chown labelops /data
USER labelops
EXPOSE 8000
CMD ["gunicorn", "labelops.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
