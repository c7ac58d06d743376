// close.ts (tests): elementwise comparison with a stated tolerance, |got − ref| ≤ atol + rtol·|ref|
// (+ slackᵢ where a caller measured how far rounding alone moves element i), failing with the index,
// both values and the tolerance.
import type { Tolerance } from "../../compiler/ops/spec.js";

export function firstMismatch(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: Tolerance,
  slack?: ArrayLike<number>,
): string | undefined {
  if (got.length !== ref.length) return `lengths differ: got ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i];
    const r = ref[i];
    if (Number.isNaN(r) && Number.isNaN(g)) continue;
    if (r === g) continue;
    const extra = slack?.[i] ?? 0;
    if (!(Math.abs(g - r) <= tol.atol + tol.rtol * Math.abs(r) + extra))
      return (
        `index ${i}: got ${g}, expected ${r} (|diff| ${Math.abs(g - r)} > ${tol.atol} + ${tol.rtol}·|ref|` +
        `${slack ? ` + ${extra}` : ""})`
      );
  }
  return undefined;
}

export function expectClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: Tolerance,
  what = "",
  slack?: ArrayLike<number>,
): void {
  const bad = firstMismatch(got, ref, tol, slack);
  if (bad) throw new Error(`${what ? `${what}: ` : ""}${bad}`);
}
