# pat-service container image: one static-ish binary on Debian slim, running as a non-root user.
#
#   docker build -t pat-service .
#   docker run --rm -e PAT_JWT_SECRET=... -e DATABASE_URL=postgres://... -p 8080:8080 pat-service
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts, which keep the crate
# registry and the target directory between builds, so a source change rebuilds only this crate.

FROM rust:1-bookworm AS builder
WORKDIR /src
# libpq for diesel's PostgreSQL backend (usually already in the image; harmless if so). Debian
# package versions are not pinned: bookworm's security updates should land on a rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pat-service \
    && install -m 0755 target/release/pat-service /usr/local/bin/pat-service

FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pat \
    && useradd --system --uid 10001 --gid pat --home-dir /var/lib/pat-service --create-home \
        --shell /usr/sbin/nologin pat
COPY --from=builder /usr/local/bin/pat-service /usr/local/bin/pat-service
# The working directory is the user's home, so the default SQLite database
# (sqlite://pat-service.db) is writable; set DATABASE_URL=postgres://... in production.
WORKDIR /var/lib/pat-service
USER 10001:10001
ENV PAT_LISTEN=0.0.0.0:8080 \
    RUST_LOG=info
# 2575: the HL7 v2 MLLP listener, only when PAT_MLLP_LISTEN is set (README, "HL7 v2 (MLLP)").
EXPOSE 8080 2575
# Shell form so that any failure exits 1, the code Docker documents for "unhealthy".
# hadolint ignore=DL3025
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["pat-service"]
CMD ["serve"]
