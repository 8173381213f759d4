FROM node:20-slim AS build
WORKDIR /app
# node-gyp builds the native transports (signaling/transport/native: UDP and plain WebSocket) during npm ci.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Without a .dockerignore the context may carry the host's node_modules and
# dist; npm ci and the rm replace both instead of trusting them.
COPY . .
# The image's own Node headers (no download); a failed addon build stops the image build here.
RUN npm_config_nodedir=/usr/local npm ci && rm -rf dist && npm run build \
 && test -f signaling/transport/native/build/Release/wac_io.node

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No build tools here: the addon built above is copied instead.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/signaling/transport/native/build/Release/wac_io.node ./signaling/transport/native/build/Release/wac_io.node
# The shipped wac.ini binds to loopback, which is unreachable from outside the
# container; mount another file and set WAC_INI to change anything else.
COPY wac.ini ./wac.ini
RUN sed -i 's/^bind = 127\.0\.0\.1$/bind = 0.0.0.0/' wac.ini && grep -qx 'bind = 0.0.0.0' wac.ini \
 && mkdir -p data && chown node:node data
USER node
# store.dir = ./data: the journal must outlive the container.
VOLUME /app/data
EXPOSE 8080 5060/udp 5060/tcp 8001
# The flags of `npm start` (package.json): a 64 MB young generation, see the README's Benchmark.
CMD ["node", "--max-semi-space-size=64", "dist/main.js"]
