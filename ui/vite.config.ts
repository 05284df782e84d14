import { defineConfig } from 'vitest/config';

// Preact through Vite's own JSX transform: no framework plugin needed.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  clearScreen: false,
  build: { target: 'safari15', outDir: 'dist', emptyOutDir: true },
  test: { environment: 'happy-dom', globals: true },
});
