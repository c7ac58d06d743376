// probe-adapter.mjs: asks Dawn for an adapter in a child process and prints one JSON line.
// Run by setup.mjs (before TypeScript tooling is known to be installed) and by `mira doctor`.
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);
let result;
try {
  const adapter = await create([]).requestAdapter();
  result = adapter
    ? {
        ok: true,
        vendor: adapter.info.vendor,
        architecture: adapter.info.architecture,
        device: adapter.info.device,
        description: adapter.info.description,
      }
    : { ok: false, reason: "Dawn found no WebGPU adapter (no Vulkan driver?)" };
} catch (e) {
  result = { ok: false, reason: String(e?.message ?? e) };
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
