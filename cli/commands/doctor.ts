// doctor.ts: `mira doctor` — the adapter, its driver, limits and features, a self-test of kernels
// against the CPU reference, and which models/ presets fit this device for inference and training.
// Exit 0 only when the adapter works: a model too large for it is information, not a failure.
import { type CaseFit, type Fit, PRESET_CASES, fitCase } from "../../api/fit.js";
import { type DeviceLimits, formatBytes } from "../../compiler/limits.js";
import { type Gpu, adapterName, getGpu } from "../../runtime/device.js";
import { type Parsed, flag } from "../args.js";
import { EXIT } from "../errors.js";
import { totalmem } from "node:os";
import { runSelfTest } from "../selftest.js";

const SHOWN_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
];

const isBytes = (k: string): boolean => /Size$/.test(k) && !/WorkgroupSize/.test(k);

export function describeGpu(gpu: Gpu): string[] {
  const a = gpu.adapter;
  return [
    `adapter    ${adapterName(a)}${gpu.limits.adapterKind === "cpu" ? "  (software: runs on the CPU)" : ""}`,
    `vendor     ${a.vendor || "-"}   architecture ${a.architecture || "-"}   device ${a.device || "-"}`,
    `runtime    Dawn (npm webgpu) · kernels tuned for a ${gpu.limits.adapterKind.toUpperCase()} adapter ` +
      `(matmul: ${gpu.limits.adapterKind === "cpu" ? "register-tiled" : "shared-memory tiles"})`,
    `features   ${a.features.join(", ")}`,
    ...SHOWN_LIMITS.map(
      (k, i) =>
        `${i === 0 ? "limits    " : "          "} ${k} = ${isBytes(k) ? formatBytes(a.limits[k]) : a.limits[k]}`,
    ),
  ];
}

/** The limits and features that decide what fits, as one line. */
export function decidingLimits(limits: DeviceLimits, features: readonly string[]): string {
  const yes = (b: boolean): string => (b ? "yes" : "no");
  return [
    `binding ${formatBytes(limits.maxStorageBufferBindingSize)}`,
    `buffer ${formatBytes(limits.maxBufferSize)}`,
    `workgroup storage ${formatBytes(limits.maxComputeWorkgroupStorageSize)}`,
    `shader-f16 ${yes(limits.shaderF16)}`,
    `subgroups ${yes(features.includes("subgroups"))}`,
  ].join(", ");
}

const count = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(1)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : `${(n / 1e3).toFixed(1)} k`;

const verdict = (f: Fit): string =>
  !f.fits
    ? `does not fit: ${f.reason}`
    : f.peakBytes === undefined
      ? "fits"
      : `fits (peak ${formatBytes(f.peakBytes)} of buffers)`;

/** What fits this device, a model per line pair: inference (forward) and training (the training step). */
export function describeFits(limits: DeviceLimits, features: readonly string[], fits: readonly CaseFit[]): string[] {
  const lines = [`fits       ${decidingLimits(limits, features)}`];
  for (const c of fits) {
    const batch = Object.entries(c.batch)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const how = c.forward.how === "estimated" ? "estimated from its sizes" : "compiled";
    const what = `${count(c.params)} parameters, batch ${batch}, ${how} in ${c.seconds.toFixed(1)} s`;
    lines.push(`           ${c.label}: ${what}`);
    lines.push(`             inference ${verdict(c.forward)}`);
    lines.push(`             training  ${verdict(c.train)}`);
  }
  return lines;
}

export async function doctor(p: Parsed): Promise<number> {
  const gpu = await getGpu();
  const checks = await runSelfTest(gpu);
  const ok = checks.every((c) => c.ok);
  // a software adapter keeps its buffers in this machine's memory, so that bounds what fits; a GPU's own
  // memory is not something WebGPU reports
  const memory = gpu.limits.adapterKind === "cpu" ? totalmem() : undefined;
  const fits = PRESET_CASES.map((c) => fitCase(c, gpu.limits, undefined, memory));
  if (flag(p, "json")) {
    const fit = { limits: gpu.limits, subgroups: gpu.adapter.features.includes("subgroups"), models: fits };
    const out = { ok, adapter: gpu.adapter, limits: gpu.limits, selfTest: checks, fit };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  } else {
    const lines = describeGpu(gpu);
    lines.push(`self-test  ${checks.map((c) => `${c.name} ${c.ok ? "ok" : "FAILED"}`).join(", ")}`);
    const worst = Math.max(...checks.map((c) => c.maxError));
    lines.push(`           max |GPU − CPU reference| = ${worst.toExponential(1)} over ${checks.length} checks`);
    lines.push(...describeFits(gpu.limits, gpu.adapter.features, fits));
    lines.push(
      ok ? "ok: this machine runs mira" : "FAILED: kernels on this adapter disagree with the CPU reference (see above)",
    );
    process.stdout.write(lines.join("\n") + "\n");
  }
  return ok ? EXIT.ok : EXIT.failed;
}
