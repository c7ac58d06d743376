// attention-memory.ts (bench): peak buffer bytes of attention's forward + backward program against the
// sequence length, from the compile report (compile only: nothing is allocated or run), for the
// lowered path (scores stored: quadratic), the flash kernels (linear) and the compiler's own choice.
// With the timing of bench/attention.ts for the sizes that run quickly, it is the "attention" section
// of docs/PERFORMANCE.md (`npm run bench`, or `npx tsx bench/attention.ts` alone).
import { grad } from "../compiler/grad.js";
import { type DeviceLimits, LimitError, formatBytes } from "../compiler/limits.js";
import type { AttentionPolicy } from "../compiler/passes/choose-attention.js";
import { compileGraph } from "../compiler/program.js";
import { reportProgram } from "../compiler/report.js";
import { type AttentionCase, attentionGraph } from "./attention-graph.js";
import { Table } from "./harness.js";

/** The sequence lengths of the memory table; timing covers those up to QUICK_T. */
export const MEMORY_TS = [128, 256, 512, 1024, 2048, 4096] as const;
export const QUICK_T = 256;

/** B·H 32 (B 8, 4 heads), D 32, causal: the shape of the timing rows. */
export const memoryCase = (t: number): AttentionCase => ({ b: 8, h: 4, t, d: 32, mask: { kind: "causal" } });

/** Peak bytes for one path; lowered attention whose scores exceed the device's binding limit is
 *  compiled against a raised limit (marked †): the figure is what it would need, not what runs. */
function peak(c: AttentionCase, attention: AttentionPolicy, limits: DeviceLimits): { text: string; path?: string } {
  const g = grad(attentionGraph(c), "loss", {
    wrt: ["q", "k", "v"],
    attention,
    maxBindingBytes: limits.maxStorageBufferBindingSize,
  });
  const compile = (l: DeviceLimits) => compileGraph(g, l, { attention });
  try {
    const p = compile(limits);
    const path = p.graph.nodes.some((n) => n.op === "flash_attention") ? "flash" : "lowered";
    return { text: formatBytes(reportProgram(p).bufferBytes), path };
  } catch (e) {
    if (!(e instanceof LimitError)) throw e;
    const raised = { ...limits, maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 };
    return { text: `${formatBytes(reportProgram(compile(raised)).bufferBytes)} †` };
  }
}

export function benchAttentionMemory(limits: DeviceLimits, ts: readonly number[] = MEMORY_TS): Table {
  const table = new Table(
    "attention memory against sequence length (forward + backward, B·H 32, D 32, causal; peak buffer bytes)",
    ["T", "scores (f32)", "lowered", "flash", "auto (the compiler's choice)"],
  );
  for (const t of ts) {
    const c = memoryCase(t);
    const auto = peak(c, "auto", limits);
    table.add([
      String(t),
      formatBytes(c.b * c.h * t * t * 4),
      peak(c, "lowered", limits).text,
      peak(c, "flash", limits).text,
      `${auto.text} (${auto.path})`,
    ]);
  }
  return table;
}

export function attentionSection(
  adapter: string,
  limits: DeviceLimits,
  memory: Table,
  timing: Table,
  load: string,
): string {
  const date = new Date().toISOString().slice(0, 10);
  const bindingLimit = formatBytes(limits.maxStorageBufferBindingSize);
  return `## Attention: memory against sequence length (${date}, adapter: ${adapter})

\`bench/attention-memory.ts\` and \`bench/attention.ts\`. Peak bytes are the compile report's buffers after
memory planning (\`mira compile --emit report\`) for a loss over attention(q, k, v) and its gradient with
respect to q, k and v: compile only, so every length is cheap to report. † marks lowered programs whose
scores exceed this device's binding limit (${bindingLimit}): compiled against a raised limit, they show what
the lowered path would need, and "auto" takes the flash kernels there. Timing (warm-up, then the median
of 5 runs; backward = (forward + backward) − forward) only for T ≤ ${QUICK_T}, where both paths run in
seconds; the flash kernels with 4 rows per invocation take llvmpipe seconds to compile, once. Load
average (1/5/15 min) when the run ended: ${load}.

${memory.markdown()}
${timing.markdown()}`;
}
