// noise.mjs: keeps Dawn's and Mesa's driver chatter off the user's terminal. Native code writes it to
// file descriptor 2 directly, so it can only be filtered outside the process: launchers pipe a child's
// stderr through `filterStream`, which drops known noise lines and passes everything else through as
// it arrives (partial lines too, so progress bars drawn with \r stay live).

const NOISE = [
  /^Warning: /, // Dawn: "Warning: maxDynamic… artificially reduced …", "Warning: Couldn't load Vulkan …"
  /^\s+at operator\(\) \(/, // Dawn's source location under a warning
  /^\s+at .*third_party\/dawn\//,
  /^MESA[-:]/, // Mesa: "MESA: warning: …", "MESA-LOADER: …"
  /^WARNING: lavapipe is not a conformant/,
];

export const isNoise = (line) => NOISE.some((re) => re.test(line));

/** Could `partial` still grow into a noise line? Then hold it until its newline arrives. */
const mayBecomeNoise = (partial) =>
  ["Warning: ", "MESA", "WARNING: lavapipe", " "].some((p) => p.startsWith(partial) || partial.startsWith(p));

/** Copies `input` to `output` without noise lines. A blank line right after dropped noise is dropped too. */
export function filterStream(input, output) {
  let pending = "";
  let afterNoise = false;
  input.setEncoding("utf8");
  input.on("data", (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (isNoise(line) || (afterNoise && line.trim() === "")) {
        afterNoise = true;
        continue;
      }
      afterNoise = false;
      output.write(line + "\n");
    }
    if (pending && !mayBecomeNoise(pending)) {
      output.write(pending);
      pending = "";
      afterNoise = false;
    }
  });
  input.on("end", () => {
    if (pending && !isNoise(pending)) output.write(pending);
  });
}
