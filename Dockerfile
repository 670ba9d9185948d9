# The serving image: the API with its bundled models. No torch, timm, albumentations or mlflow.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY model ./model
COPY serving ./serving
COPY training ./training
COPY data_pipelines ./data_pipelines
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[serving]'

FROM python:3.11-slim
# fonts-dejavu-core: the consult note's PDF embeds DejaVu Sans (every accent and script of a patient's name)
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 dermatriage \
    && mkdir -p /var/lib/dermatriage/photos && chown -R dermatriage /var/lib/dermatriage
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER dermatriage
WORKDIR /home/dermatriage
ENV DATABASE_URL=sqlite:////var/lib/dermatriage/dermatriage.db \
    DERMATRIAGE_PHOTO_DIR=/var/lib/dermatriage/photos \
    DERMATRIAGE_ENVIRONMENT=production
VOLUME /var/lib/dermatriage
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["dermatriage", "serve", "--host", "0.0.0.0", "--port", "8000"]
