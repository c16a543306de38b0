# The modelbump image: the binary, CA certificates, git and an ssh client, running as a non-root user.
#
#   docker build -t registry.example.com/modelbump:0.1.0 .
#
# Stage 1 builds a release binary whose only dynamic dependency is glibc: libgit2 and libssh2 are
# vendored by their crates, OpenSSL is built from source (feature `vendored-openssl`), and HTTPS to
# MLflow and Argo CD uses rustls. Stage 2 is a slim Debian with what the binary and CI jobs need:
# CA certificates for HTTPS, and git + ssh because CI runners (GitHub Actions, GitLab CI) check the
# repository out with the image's own git and run their scripts with its shell.

FROM rust:1.95-bookworm AS build
# cmake and perl build aws-lc (rustls' crypto) and OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --features vendored-openssl --bin modelbump \
 && strip target/release/modelbump

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 modelbump \
 && useradd --uid 65532 --gid 65532 --create-home --home-dir /home/modelbump --shell /usr/sbin/nologin modelbump
COPY --from=build /src/target/release/modelbump /usr/local/bin/modelbump
# The id, not the name, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /home/modelbump
# No ENTRYPOINT: CI runners start the image with their own command and a shell, and Argo templates set
# `command: [modelbump]`.
CMD ["modelbump", "--help"]
