// node:http, loaded without undici. An ESM import of node:http reads every export of the module,
// and its WebSocket, CloseEvent and MessageEvent getters load undici, Node's bundled fetch: ~14 MiB
// more resident memory for a node agent that never uses fetch or WebSocket (and `import type`
// costs nothing). process.getBuiltinModule hands over the module without reading those getters.
export const http: typeof import('node:http') = process.getBuiltinModule('node:http');
