# Two images, one build. Runtime: the current Node.js LTS line (24); CI also keeps Node 20 working.
#   docker build -t stint .                                 the Stint service (also holds stint-sidecar)
#   docker build --target sidecar -t stint-sidecar .        the injected sidecar: node and its bundle only
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY proto ./proto
COPY src ./src
COPY sidecar ./sidecar
COPY test ./test
COPY examples ./examples
# The sidecar bundle (esbuild, a dev dependency) is built before the prune.
RUN npm run build && npm run build:sidecar && npm prune --omit=dev

# The sidecar image, on every injected pod: the node binary and the stint-sidecar bundle (its
# program, its chunks and its configuration check, no node_modules) on a slim Debian. The bundle sits where
# the service image has the sidecar, so the webhook's default command (node /app/dist/sidecar/main.js)
# runs in either image. Non-root (1000, as in the service image); it writes nothing of its own:
# runs with readOnlyRootFilesystem, credentials go to the tmpfs the webhook mounts.
FROM debian:bookworm-slim AS sidecar
ENV NODE_ENV=production
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# The bundle, whole: main.js and its chunks, check.js with check-lib.cjs and its V8 code cache (check.cache), package.json.
# The cache was written by the build stage's node, the binary copied above, so V8 accepts it here.
COPY --from=build /app/dist/sidecar-bundle/ /app/dist/sidecar/
WORKDIR /app
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/sidecar/main.js"]
CMD ["sidecar", "--config", "/etc/stint/sidecar.yaml"]

# The service image (the default target: the last stage).
FROM node:24-bookworm-slim AS service
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
COPY --from=build /app/examples ./examples
# Unprivileged user; state lives on a mounted volume.
USER node
VOLUME ["/var/lib/stint"]
EXPOSE 8080 8081 8082
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve", "--config", "/etc/stint/config.yaml"]
