# One image for both processes; the command picks the role:
#   docker run IMAGE                                                   -> the API (the default)
#   docker run IMAGE node --enable-source-maps dist/main/worker.js     -> the Temporal worker
#   docker run IMAGE node dist/main/apikey.js create --tenant t --scopes submit,read
# It runs the production build (plain JavaScript and a prebuilt workflow bundle, see
# scripts/build.ts): no process transpiles TypeScript or runs webpack at start.
# The worker needs privileges for its sandbox engine: see docker-compose.temporal.yml and the
# README's "Running in production".

# ---- build: all dependencies, the Prisma client, then dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
# A C compiler and the static C library: the build compiles the sandbox's init (src/sandbox/run/init.c)
# into dist/, so the runtime image needs no compiler and saves a Python start-up in every run.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script (prebuilt native modules, wasm engines);
# the Prisma client is generated explicitly below, offline.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
RUN npm run prisma:generate && npx tsx scripts/build.ts

# ---- runtime: production dependencies, the build and the migrations only ----
FROM node:20-bookworm-slim AS runtime

# bubblewrap: the default sandbox engine (util-linux's setpriv, in the base image, starts it as
# uid 65534). python3 (Debian's /usr/bin/python3): the sandbox's fallback init, the Python scanner and the
# interpreter for submitted Python code. tini: PID 1, forwards SIGTERM to node (which drains) and
# reaps orphans. For EVAL_ENGINE=gvisor add runsc: --build-arg SANDBOX_PACKAGES="bubblewrap runsc".
ARG SANDBOX_PACKAGES="bubblewrap"
# The toolchains of C, C++, Go and Java (bash is in the base image). Leave one out, e.g.
# --build-arg LANGUAGE_PACKAGES="gcc g++", for a smaller image: GET /v1/languages then lists the
# missing languages as unavailable and submissions in them are refused (422 language_unavailable).
ARG LANGUAGE_PACKAGES="gcc g++ libc6-dev golang-go default-jdk-headless"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ${SANDBOX_PACKAGES} ${LANGUAGE_PACKAGES} python3 tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
# Two glibc malloc arenas, as `npm start` runs with: about a tenth less RSS under load (README, Speed).
ENV MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The committed migrations: api and worker apply them at start-up (src/db/migrate.ts).
COPY prisma ./prisma

# Non-root by default: the API runs no untrusted code. The worker's sandbox engines need root in
# the container (bwrap: namespaces, per-run cgroups, setpriv to 65534; runsc likewise): run it
# with `--user root` and the capabilities described in the README.
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--enable-source-maps", "dist/main/api.js"]
