# One image for both processes; the command picks the role:
#   docker run IMAGE                       -> npm run api     (the default)
#   docker run IMAGE npm run worker        -> the Temporal worker
# The worker needs privileges for bubblewrap's namespaces: see docker-compose.temporal.yml.
FROM node:20-bookworm-slim

# bubblewrap: the default sandbox engine. python3 (Debian's /usr/bin/python3): the sandbox's init,
# the Python scanner and the interpreter for submitted Python code. tini: PID 1 that forwards
# signals to the whole process group (npm -> tsx -> node) and reaps orphans.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap python3 tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so code changes do not reinstall them. --ignore-scripts: nothing here needs
# an install script (prebuilt native modules, wasm engines), and it keeps the build reproducible.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

COPY tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
# Offline-safe: points PRISMA_SCHEMA_ENGINE_BINARY at an existing file so nothing is downloaded.
RUN npm run prisma:generate

# Migrations are applied by api and worker at start-up (src/db/migrate.ts).
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
CMD ["npm", "run", "api"]
