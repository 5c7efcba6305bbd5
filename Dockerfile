# relay365 container image. Build: docker build -t relay365 .  (see docker-compose.yml: two relays + Redis)
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/bundle.mjs ./scripts/
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# relative default paths (data/, certs/) stay under /app, the volumes below, as in a checkout
# (src/config/data-home.ts: an installed package would put them in the user's data directory)
ENV RELAY365_HOME=/app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the dashboard's plain HTML/CSS/JS, read at start from src/http/ui (tsc copies only .ts output)
COPY --from=build /app/src/http/ui ./src/http/ui
COPY bin ./bin
# what `serve` runs without --config (src/config/example.ts); loopback only, so inside a container
# it is a smoke test at most: the compose file and CMD give a config of their own
COPY examples/sample-tenant.yaml ./examples/
COPY package.json ./
# data/ (trace, captured mail) and certs/ (TLS identity) are volumes; the config names them.
RUN mkdir -p /app/data /app/certs && chown -R node:node /app/data /app/certs
USER node
EXPOSE 2525 2587 8025
ENTRYPOINT ["node", "--max-semi-space-size=2", "bin/relay365.js"]
CMD ["serve", "--config", "/etc/relay365/relay365.yaml"]
