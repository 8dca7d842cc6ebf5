import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only add contention for the servers each test file starts.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
