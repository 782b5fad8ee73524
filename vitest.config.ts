// Test runner configuration: the tiers live under test/<tier>/ (see README "Tests").
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // A temp root per run, removed at the end (test/support/temp-root.ts).
    globalSetup: ["test/support/temp-root.ts"],
    reporters: ["default"],
  },
});
