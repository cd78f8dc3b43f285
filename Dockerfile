# certgate reference service for Azure Container Apps.
# docker build -t certgate .
# docker run -p 8000:8000 -e ALLOWED_CERT_THUMBPRINTS=<sha-256> certgate
# An allowlist (ALLOWED_CERT_THUMBPRINTS or ALLOWED_CERT_COMMON_NAMES) is required: there is no
# default, and without one the service stops at start saying which variable to set.
# ACA's ingress terminates mTLS and forwards the client certificate in X-Forwarded-Client-Cert;
# its liveness/readiness probes call GET /health, so the image has no HEALTHCHECK of its own.

# --- build: compile src/ to dist/ with the dev dependencies (TypeScript) ---
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before src/ is here (src/ comes later, so this layer
# is reused while the lockfile is unchanged), and tsc needs none of the dev packages' install
# scripts (bun, deno, esbuild). The build then runs once, below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and dist/ only, as the unprivileged `node` user ---
FROM node:20-slim
ENV NODE_ENV=production
ENV PORT=8000
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run the build, which needs dev dependencies; no runtime
# dependency has an install script. --omit=optional: TypeScript is valibot's optional peer, so
# --omit=dev alone still installs the compiler (~30 MB); nothing optional is used at runtime.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The files stay root-owned: the service only reads them.
USER node
EXPOSE 8000
CMD ["node", "dist/service/main.js"]
