// Used as a library, mira keeps stderr clean: Dawn's notes that it capped limits mira never uses
// ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced …"), which Dawn writes natively while
// the device is created, are dropped; what the program itself writes to stderr, before and after, stays.
// stderr is a file or a pipe made by the shell (a Node parent's 'pipe' is a socket: runtime/device.ts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-stderr-"));
const script = join(dir, "device.mts");
writeFileSync(
  script,
  [
    `import { getGpu } from ${JSON.stringify(join(root, "runtime", "device.ts"))};`,
    `process.stderr.write("before\\n");`,
    `const gpu = await getGpu();`,
    `process.stderr.write("after\\n");`,
    `gpu.device.destroy();`,
  ].join("\n"),
);
const node = `'${process.execPath}' --import tsx '${script}'`;

test.each([
  ["a file", `${node} 2>'${join(dir, "err.txt")}'; cat '${join(dir, "err.txt")}'`],
  ["a pipe", `${node} 2>&1 >/dev/null | cat`],
])("creating a device writes nothing to stderr when it is %s", (_, command) => {
  const r = spawnSync("sh", ["-c", `set -e; ${command}`], { cwd: root });
  expect(r.status, r.stderr.toString()).toBe(0);
  expect(r.stdout.toString()).toBe("before\nafter\n");
});
