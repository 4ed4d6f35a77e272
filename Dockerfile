# syntax=docker/dockerfile:1
# Image of the auth0-rotate container action: one static binary and the CA
# bundle on an empty base. On main, action.yml builds this file; a release
# publishes it for linux/amd64 and linux/arm64 and pins action.yml to the
# image's digest.

# The build: a fully static executable (glibc with crt-static; the C parts of
# aws-lc are linked in), so the runtime image needs no libc, shell or loader.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN target="$(rustc -vV | sed -n 's/^host: //p')" \
 && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --bin auth0-rotate --target "$target" \
 && mkdir -p /out/etc/ssl/certs \
 && cp "target/$target/release/auth0-rotate" /out/auth0-rotate \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# The runtime: nothing but the binary and the CA bundle TLS to Auth0 and
# GitHub is verified against. Container actions run as root (no USER) in
# the workspace GitHub mounts (no WORKDIR).
FROM scratch
COPY --from=build /out/ /
ENTRYPOINT ["/auth0-rotate", "action"]
