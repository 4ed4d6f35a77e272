# syntax=docker/dockerfile:1
# Image for the auth0-rotate container action. The release workflow builds it
# for linux/amd64 and linux/arm64 and pushes it to ghcr.io; action.yml points at
# that image so no workflow compiles Rust.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin auth0-rotate \
 && cp target/release/auth0-rotate /auth0-rotate

FROM debian:bookworm-slim
# CA certificates: TLS to Auth0 and GitHub is verified against the OS store.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /auth0-rotate /usr/local/bin/auth0-rotate
# Container actions run as root (no USER) in the workspace GitHub mounts (no WORKDIR).
ENTRYPOINT ["/usr/local/bin/auth0-rotate", "action"]
