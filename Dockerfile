# certgate reference service for Azure Container Apps.
# docker build -t certgate .
# docker run -p 8000:8000 -e ALLOWED_CERT_THUMBPRINTS=<sha-256> certgate
# An allowlist (ALLOWED_CERT_THUMBPRINTS or ALLOWED_CERT_COMMON_NAMES) is required: there is no
# default, and without one the service stops at start saying which variable to set.
# ACA's ingress terminates mTLS and forwards the client certificate in X-Forwarded-Client-Cert;
# its liveness/readiness probes call GET /health, so the image has no HEALTHCHECK of its own.

# --- build: the service bundled into one file by esbuild, from the lockfile's packages ---
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Only what the bundle needs. --omit=optional leaves out the platform binaries of bun, deno and
# the TypeScript compiler (~220 MB the build never runs; esbuild strips the types), and
# --ignore-scripts their install scripts and `prepare`. esbuild's own binary is an optional
# platform package too: `npm rebuild esbuild` runs its install script alone, which fetches the
# binary for this platform at the exact version the lockfile pins.
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund && npm rebuild esbuild
COPY scripts/build-service.ts ./scripts/
COPY src ./src
RUN node --import tsx scripts/build-service.ts dist-service/main.mjs

# --- runtime: one file and node, as the unprivileged `node` user; no node_modules, no npm run ---
FROM node:24-slim
ENV NODE_ENV=production
ENV PORT=8000
WORKDIR /app
# Root-owned: the service only reads it.
COPY --from=build /app/dist-service/main.mjs ./main.mjs
USER node
EXPOSE 8000
CMD ["node", "main.mjs"]
