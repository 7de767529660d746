# The crisiscomm image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CRISISCOMM_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are served by WhiteNoise from the apps' folders (WHITENOISE_USE_FINDERS).
RUN useradd --system --home /app crisiscomm && mkdir -p /app/var && chown -R crisiscomm /app/var
USER crisiscomm
EXPOSE 8000
CMD ["gunicorn", "crisiscomm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
