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

ENV PATH="/app/.venv/bin:${PATH}"
RUN useradd --create-home --uid 10001 promptcut
USER 10001
ENTRYPOINT ["promptcut"]
CMD ["--help"]
