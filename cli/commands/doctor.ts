// doctor.ts: `mira doctor` — the adapter, its driver, limits and features, and a self-test of kernels
// against the CPU reference. Exit 0 only when all of it works.
import { formatBytes } from "../../compiler/limits.js";
import { type Gpu, adapterName, getGpu } from "../../runtime/device.js";
import { type Parsed, flag } from "../args.js";
import { EXIT } from "../errors.js";
import { runSelfTest } from "../selftest.js";

const SHOWN_LIMITS = [
  "maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage", "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX", "maxComputeWorkgroupsPerDimension",
];

const isBytes = (k: string): boolean => /Size$/.test(k) && !/WorkgroupSize/.test(k);

export function describeGpu(gpu: Gpu): string[] {
  const a = gpu.adapter;
  return [
    `adapter    ${adapterName(a)}${gpu.limits.adapterKind === "cpu" ? "  (software: runs on the CPU)" : ""}`,
    `vendor     ${a.vendor || "-"}   architecture ${a.architecture || "-"}   device ${a.device || "-"}`,
    `runtime    Dawn (npm webgpu) · kernels tuned for a ${gpu.limits.adapterKind.toUpperCase()} adapter (matmul: ${gpu.limits.adapterKind === "cpu" ? "register-tiled" : "shared-memory tiles"})`,
    `features   ${a.features.join(", ")}`,
    ...SHOWN_LIMITS.map((k, i) => `${i === 0 ? "limits    " : "          "} ${k} = ${isBytes(k) ? formatBytes(a.limits[k]) : a.limits[k]}`),
  ];
}

export async function doctor(p: Parsed): Promise<number> {
  const gpu = await getGpu();
  const checks = await runSelfTest(gpu);
  const ok = checks.every((c) => c.ok);
  if (flag(p, "json")) {
    process.stdout.write(JSON.stringify({ ok, adapter: gpu.adapter, limits: gpu.limits, selfTest: checks }, null, 2) + "\n");
  } else {
    const lines = describeGpu(gpu);
    lines.push(`self-test  ${checks.map((c) => `${c.name} ${c.ok ? "ok" : "FAILED"}`).join(", ")}`);
    const worst = Math.max(...checks.map((c) => c.maxError));
    lines.push(`           max |GPU − CPU reference| = ${worst.toExponential(1)} over ${checks.length} checks`);
    lines.push(ok ? "ok: this machine runs mira" : "FAILED: kernels on this adapter disagree with the CPU reference (see above)");
    process.stdout.write(lines.join("\n") + "\n");
  }
  return ok ? EXIT.ok : EXIT.failed;
}
