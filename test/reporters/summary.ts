// summary.ts: a vitest reporter that ends the run with one line, `N passed, N failed`, which CI reads.
// A test file that fails to load, an unhandled error, or a skipped test counts as a failure: green
// must mean every test really ran and passed.
import type { Reporter, SerializedError, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = errors.length;
    let skipped = 0;
    for (const m of modules) {
      let tests = 0;
      for (const t of m.children.allTests()) {
        tests++;
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "skipped" || state === "pending") skipped++;
        else failed++;
      }
      if (tests === 0 || m.state() === "failed") {
        // a module whose tests did not all pass on their own accounts (import error, hook failure)
        if (tests === 0 || ![...m.children.allTests()].some((t) => t.result().state === "failed")) failed++;
      }
    }
    if (skipped) process.stdout.write(`${skipped} test(s) skipped: skipped tests count as failed\n`);
    process.stdout.write(`${passed} passed, ${failed + skipped} failed\n`);
  }
}
