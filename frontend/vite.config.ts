/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves dist/index.html for / and /app/..., and the hashed assets
// through staticfiles as /static/frontend/... (STATICFILES_DIRS in
// labelops/settings.py maps that prefix to this dist/ folder).
export default defineConfig({
  base: "/static/frontend/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles: the page's Content-Security-Policy forbids them.
    assetsInlineLimit: 0,
    // Vite's modulepreload polyfill is injected into the bundle, not inline; off
    // because every browser we support has modulepreload.
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
