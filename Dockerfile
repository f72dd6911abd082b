# Stint service image. Runtime: the current Node.js LTS line (24); CI also keeps Node 20 working.
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
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
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
