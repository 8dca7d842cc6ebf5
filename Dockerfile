# syntax=docker/dockerfile:1
# keeptrusts: the gateway (`kt gateway run`) and the control plane (`kt server`) in one image, `kt` as entrypoint.
# Build:  docker build -t keeptrusts .
# Run:    docker run --read-only -v kt-data:/data -v ./policy-config.yaml:/etc/keeptrusts/policy-config.yaml:ro \
#           -v ./tls:/etc/keeptrusts/tls:ro -p 41002:41002 keeptrusts
# See docs/deploy.md. The base is pinned to a release so a rebuild gets the same Node; bump it deliberately.

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here; the two native packages are built explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY console ./console
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && chmod 0755 dist/cli/main.js

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production \
    KEEPTRUSTS_DATA_DIR=/data
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY examples ./examples
COPY deploy/healthcheck.mjs ./healthcheck.mjs
# The data dir is the only place kt writes (events, journal, signing key, virtual keys): a volume, owned by the
# unprivileged user, so the root filesystem can be mounted read-only.
RUN ln -s /app/dist/cli/main.js /usr/local/bin/kt \
  && mkdir -p /data /etc/keeptrusts \
  && chown 1000:1000 /data \
  && chmod 0700 /data
VOLUME ["/data"]
# Numeric, so Kubernetes can check runAsNonRoot (uid 1000 is the image's `node` user).
USER 1000:1000
EXPOSE 41002 41003
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["kt"]
# Beyond loopback the gateway needs TLS: set KEEPTRUSTS_TLS_CERT and KEEPTRUSTS_TLS_KEY (mounted files), or add
# --insecure-listen behind a TLS-terminating load balancer. Without either it refuses to start, saying so.
CMD ["gateway", "run", "--listen", "0.0.0.0:41002", "--policy-config", "/etc/keeptrusts/policy-config.yaml", "--log-format", "json"]
