import { defineConfig } from 'vitest/config';

/** `npm run e2e:team`: only the scale-out test (test/team/), which starts its own processes and HAProxy. */
export default defineConfig({
  test: {
    include: ['test/team/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
