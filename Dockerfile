# promptcut — same steps as the README's set-up (`make install`, which `make demo` / `make test` run first).
FROM python:3.11-slim-bookworm

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY prompting ./prompting
COPY fusion ./fusion
COPY service ./service
COPY samples ./samples
RUN make install

ENV PATH="/app/.venv/bin:${PATH}" \
    PROMPTCUT_DATA_DIR=/data \
    PROMPTCUT_MODELS=/models \
    PROMPTCUT_HOST=0.0.0.0
RUN useradd --create-home --uid 10001 promptcut \
    && mkdir -p /data /models && chown promptcut /data /models && chmod 700 /data
USER 10001
# Jobs, items, API keys and artifacts live in /data; neural models (optional) in /models.
VOLUME ["/data", "/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["promptcut"]
# The service by default; any other command works too, e.g. `docker run IMAGE keys create --store shop`.
CMD ["serve"]
