// autotune-cache.ts: where an adapter's matmul tuning table lives on disk, and the one place programs
// compiled for the local device pick it up (`compileFor`). The table is
// `.mira-cache/autotune/<adapter key>.json` (MIRA_CACHE_DIR replaces `.mira-cache`), written only by
// `mira bench --autotune`; a missing table means default kernels, and an unreadable one is ignored with
// a one-line warning — a table can only make kernels faster, never decide what they compute.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type TuningTable, TableFormatError, parseTable, serializeTable } from "../compiler/autotune.js";
import type { Graph } from "../compiler/ir.js";
import { type CompileOptions, type Program, compileGraph } from "../compiler/program.js";
import type { Gpu } from "./device.js";

const ROOT = join(import.meta.dirname, "..");

/** `.mira-cache` of the project, or MIRA_CACHE_DIR (tests point it elsewhere, so they never read a
 *  developer's table). */
export function cacheRoot(): string {
  return resolve(process.env.MIRA_CACHE_DIR || join(ROOT, ".mira-cache"));
}

function dawnVersion(): string {
  try {
    return String(
      (createRequire(import.meta.url)("webgpu/package.json") as { version?: unknown }).version ?? "unknown",
    );
  } catch {
    return "unknown";
  }
}

/** A file name for this adapter and driver: readable vendor/architecture/device, then a hash of
 *  everything that changes kernel speed — the description (driver and its version), the Dawn package,
 *  the workgroup limit and, for a software adapter, the host's core count. */
export function adapterKey(gpu: Pick<Gpu, "adapter" | "limits">): string {
  const a = gpu.adapter;
  const facts = [
    a.vendor,
    a.architecture,
    a.device,
    a.description,
    `webgpu ${dawnVersion()}`,
    `invocations ${gpu.limits.maxComputeInvocationsPerWorkgroup}`,
    gpu.limits.adapterKind === "cpu" ? `cores ${cpus().length}` : "",
  ];
  const slug = [a.vendor, a.architecture, a.device]
    .filter(Boolean)
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
  const hash = createHash("sha256").update(facts.join("\n")).digest("hex").slice(0, 10);
  return `${slug || "adapter"}-${hash}`;
}

export function tablePath(gpu: Pick<Gpu, "adapter" | "limits">): string {
  return join(cacheRoot(), "autotune", `${adapterKey(gpu)}.json`);
}

export type Warn = (line: string) => void;

const stderrWarn: Warn = (line) => process.stderr.write(`${line}\n`);

/** The table at `path` for adapter `key`, or undefined (no file, or one that cannot be used: warned). */
export function readTable(path: string, key: string, warn: Warn = stderrWarn): TuningTable | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const t = parseTable(readFileSync(path, "utf8"));
    if (t.adapter !== key) throw new TableFormatError(`it belongs to adapter '${t.adapter}', not '${key}'`);
    return t;
  } catch (e) {
    const why = e instanceof TableFormatError ? e.message : (e as Error).message.split("\n")[0];
    warn(
      `mira: ignoring the matmul tuning table ${path}: ${why}; ` +
        "default kernels are used ('mira bench --autotune MODEL' rebuilds it)",
    );
    return undefined;
  }
}

/** Writes atomically (a temporary file renamed over the old one), so a reader never sees half a table. */
export function writeTable(path: string, table: TuningTable): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, serializeTable(table));
  renameSync(tmp, path);
}

// One read per file version: compiles are frequent, and a table rewritten by the autotuner in this
// process is seen by the next compile. A broken file is warned about once per version.
const loaded = new Map<string, { stamp: string; table: TuningTable | undefined }>();

/** The current adapter's table, if one was measured and is usable. */
export function tuningFor(gpu: Pick<Gpu, "adapter" | "limits">, warn: Warn = stderrWarn): TuningTable | undefined {
  const path = tablePath(gpu);
  let stamp = "absent";
  try {
    const st = statSync(path);
    stamp = `${st.ino}:${st.mtimeMs}:${st.size}`; // a rename (writeTable) makes a new inode
  } catch {
    return undefined;
  }
  const hit = loaded.get(path);
  if (hit?.stamp === stamp) return hit.table;
  const table = readTable(path, adapterKey(gpu), warn);
  loaded.set(path, { stamp, table });
  return table;
}

/** compileGraph for this device: its limits and its tuning table (when measured). Every API path that
 *  compiles for the local adapter goes through here; explicit `opts` win. */
export function compileFor(gpu: Pick<Gpu, "adapter" | "limits">, graph: Graph, opts: CompileOptions = {}): Program {
  return compileGraph(graph, gpu.limits, { tuning: tuningFor(gpu), ...opts });
}
