import { defineConfig } from "@hey-api/openapi-ts";

// `openapi.json` is `blog openapi`'s output (make client-check writes it). The document
// names no server: the app sets its own base URL (client.setConfig({ baseUrl })).
export default defineConfig({
  input: "openapi.json",
  output: "generated",
  plugins: [
    { name: "@hey-api/client-fetch", baseUrl: false },
    "@hey-api/typescript",
    "@hey-api/sdk",
  ],
});
