// opaque-loops.ts: loop bounds a software adapter's compiler cannot see through. Mesa's llvmpipe unrolls
// every loop whose trip count it can compute, and LLVM then spends seconds on the unrolled code: a layer
// norm row kernel over rows of 32 took 16.7 s to compile cold and 0.45 s with its bounds opaque (llvmpipe,
// 2 cores; bench/compile/run.ts measures a whole training step). A kernel's loops are small and its work
// memory-bound on a CPU, so the unrolled code buys nothing there. The bound `n` becomes `n + z`, where `z`
// is zero at run time but derives from arrayLength() (below 2³² − 1 for any binding; uniform, so loops
// with barriers stay valid). GPUs compile fast and unroll well: they keep their kernels as they are.
import { closing } from "./accesses.js";

/** `code` with every `for (var i = …; i < N; …)` over an i32 literal N given an opaque bound. */
export function opaqueLoopBounds(code: string): string {
  const binding = /^@group\(0\) @binding\(\d+\) var<storage, \w+> (\w+):/m.exec(code)?.[1];
  if (!binding) return code;
  const fnStart = /^fn \w+\(.*\)(?: -> [^{]+)? \{[ \t]*$/gm;
  let out = "";
  let at = 0;
  for (const m of code.matchAll(fnStart)) {
    const open = m.index + m[0].lastIndexOf("{");
    const close = closing(code, open);
    if (close < 0) return code;
    let count = 0;
    const body = code
      .slice(open + 1, close)
      .replace(/for \(var (\w+) = ([^;]+); \1 < (\d+);/g, (_all, v: string, init: string, n: string) => {
        count++;
        return `for (var ${v} = ${init}; ${v} < ${n} + opaque_zero;`;
      });
    if (count === 0) continue;
    out += `${code.slice(at, open + 1)}\n  let opaque_zero = i32(arrayLength(&${binding}) / 4294967295u);${body}`;
    at = close;
  }
  return out + code.slice(at);
}
