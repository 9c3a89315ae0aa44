# The reference gateway (examples/gateway) as a small, non-root image.
# docs/deploy.md: building it, running it, and Kubernetes.
#
#   docker build -t gatehouse .
#   docker run -p 8000:8000 -p 8080:8080 -v gatehouse-data:/data gatehouse

FROM golang:1.26 AS build
WORKDIR /src
# The module's dependencies first: a layer that changes only with go.sum.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# No cgo (the SQLite driver is pure Go): a static binary, for an image without libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gateway ./examples/gateway
# The data directory, owned by the runtime image's nonroot user (65532).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
COPY --from=build --chown=65532:65532 /out/data /data
# Every flag is also an environment variable (gateway -h). Listen on every
# interface, and keep the SQLite store and its key file in the volume.
ENV GATEHOUSE_LISTEN=0.0.0.0:8000 \
    GATEHOUSE_ADMIN_LISTEN=0.0.0.0:8080 \
    GATEHOUSE_STORE=sqlite:///data/gatehouse.db
# 8000: the data plane; 8080: the admin API and the probes (/healthz, /readyz).
EXPOSE 8000 8080
VOLUME /data
WORKDIR /data
USER 65532:65532
ENTRYPOINT ["/gateway"]
