// builtins.test.ts: the checker's and the elaborator's builtin tables name the same functions.
import { expect, test } from "vitest";
import { LOWERINGS, VALUE_BUILTINS } from "../../compiler/lower/builtins.js";
import { BUILTINS, BUILTIN_VALUES } from "../../dsl/check/builtins.js";

test("every checked builtin has a lowering and vice versa", () => {
  expect(Object.keys(LOWERINGS).sort()).toEqual(Object.keys(BUILTINS).sort());
  expect(Object.keys(VALUE_BUILTINS).sort()).toEqual(Object.keys(BUILTIN_VALUES).sort());
});
