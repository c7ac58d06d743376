// Mutation check (docs/testing.md): `MIRA_MUTATE_OP=exp npx vitest run …` scales one elementwise op's WGSL
// result by 1.001 (a relative error far past any elementwise op's tolerance, rtol ≤ 2e-5) in every kernel the
// test process compiles, so the tests meant to catch a wrong op can be seen failing. Unset, it does nothing.
import { setWgslMutation } from "../../compiler/wgsl/fused.js";

const op = process.env.MIRA_MUTATE_OP;
if (op) setWgslMutation({ op, wrap: (expr) => `((${expr}) * 1.001)` });
