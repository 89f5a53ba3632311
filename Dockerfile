# Fleetline engine (and the load-test tools, same image).
#   docker build -t fleetline .
#   docker run -p 8080:8080 -p 5055:5055 -e JWT_SECRET=$(openssl rand -hex 32) fleetline     # a production node (embedded stores; 5055: OsmAnd)
#   docker run -p 127.0.0.1:8080:8080 -e FLEETLINE_MODE=demo -e HOST=0.0.0.0 fleetline   # the demo map, this machine only
# docker-compose.yml runs three of these against Kafka, Redis and PostgreSQL.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The client SDK is an npm workspace: npm ci needs its package.json.
COPY packages/client/package.json ./packages/client/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY engine ./engine
COPY actors ./actors
COPY adapters ./adapters
COPY cluster ./cluster
COPY loadtest ./loadtest
COPY scripts ./scripts
COPY packages/client/tsconfig.json ./packages/client/tsconfig.json
COPY packages/client/src ./packages/client/src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The client SDK the demo page loads (/sdk/); node_modules/@fleetline/client links to it.
COPY --from=build /app/packages/client/package.json ./packages/client/package.json
COPY --from=build /app/packages/client/dist ./packages/client/dist
# Static files the engine serves (demo map) and the example fleet; found via package.json's folder.
COPY engine/public ./engine/public
COPY demo ./demo
# The operators' CLI (npx fleetline / node bin/fleetline.mjs): runs dist/engine/cli.js.
COPY bin ./bin
USER node
EXPOSE 8080 5055
# No curl in the slim image: Node 20's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# A young generation of 64 MiB semi-spaces instead of V8's 16: restoring vehicles keeps most of
# what it allocates, and the hot path makes short-lived objects per point; both collect far less
# often (docs/performance.md, "Restart and memory").
CMD ["node", "--max-semi-space-size=64", "dist/engine/main.js"]
