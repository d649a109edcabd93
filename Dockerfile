# barrack in a small runtime image; the entrypoint is barrack itself:
#   docker build -t barrack .
#   docker run --rm barrack run --sim /usr/share/barrack/scripts/quickstart.rhai
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/barrack

# TLS roots are compiled in (webpki roots), so the runtime needs no CA bundle.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/barrack /usr/local/bin/barrack
COPY --from=build /src/scripts /usr/share/barrack/scripts
ENTRYPOINT ["/usr/local/bin/barrack"]
CMD ["--help"]
