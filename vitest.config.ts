import { join } from "node:path";
import { defineConfig } from "vitest/config";

// GPU suites share one Dawn device per worker; two workers match this machine's two cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/reporters/summary.ts"],
    setupFiles: ["./test/helpers/mutation.ts"],
    // Tests compile with default kernels: never the matmul tuning table a developer measured into
    // .mira-cache (runtime/autotune-cache.ts). Autotuning tests point this at their own directory.
    // llvmpipe compiles the tests' kernels without LLVM's optimization passes (GALLIVM_PERF=nopt): most run
    // once on small shapes, so compiling is most of their cost; a cold suite takes about a third less.
    // Mesa keys its shader cache by these flags, so benchmarks and `npm start` never load these kernels.
    // A value set in the environment wins; on a hardware adapter the variable means nothing.
    env: {
      MIRA_CACHE_DIR: join(import.meta.dirname, "test", ".generated", "cache"),
      GALLIVM_PERF: process.env.GALLIVM_PERF ?? "nopt",
    },
  },
});
