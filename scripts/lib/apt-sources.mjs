// apt-sources.mjs: derive a bookworm-backports apt source from the machine's own apt sources, so no
// mirror host is ever written into the repository. Pure functions over file texts; setup.mjs does the I/O.

/** Parse deb822 `.sources` text into stanzas of lower-cased field → value. */
export function parseDeb822(text) {
  const stanzas = [];
  let current = null;
  let lastKey = null;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === "") {
      if (current) stanzas.push(current);
      current = null;
      lastKey = null;
      continue;
    }
    if (raw.startsWith("#")) continue;
    if (/^\s/.test(raw) && current && lastKey) {
      current[lastKey] += "\n" + raw.trim(); // continuation line (e.g. an inline key block)
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
    if (!m) continue;
    current ??= {};
    lastKey = m[1].toLowerCase();
    current[lastKey] = m[2].trim();
  }
  if (current) stanzas.push(current);
  return stanzas;
}

/** Parse one-line `.list` text into entries { type, options, uri, suite, components }. */
export function parseOneLine(text) {
  const entries = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    entries.push({
      type: m[1],
      options: m[2]?.trim() ?? "",
      uri: m[3],
      suite: m[4],
      components: m[5].split(/\s+/).filter(Boolean),
    });
  }
  return entries;
}

const isEnabled = (s) => (s.enabled ?? "yes").toLowerCase() !== "no";

/** True when some source already serves `${codename}-backports`. */
export function hasBackports(files, codename) {
  const suite = `${codename}-backports`;
  for (const f of files) {
    if (f.path.endsWith(".sources")) {
      if (parseDeb822(f.text).some((s) => isEnabled(s) && (s.suites ?? "").split(/\s+/).includes(suite))) return true;
    } else if (parseOneLine(f.text).some((e) => e.type === "deb" && e.suite === suite)) return true;
  }
  return false;
}

/** A deb822 field; a multi-line value (an inline key) keeps its continuation lines indented. */
const field = (name, value) =>
  `${name}:${value
    .split("\n")
    .map((line, i) => (i === 0 && line === "" ? "" : ` ${line}`))
    .join("\n")}`;

/**
 * From the machine's apt source files ([{ path, text }]), build a deb822 stanza for
 * `${codename}-backports` that reuses the URI, components and signing key of the entry serving the
 * release itself (`codename`, not -security or -updates). Returns undefined when none is found.
 */
export function deriveBackportsSource(files, codename) {
  for (const f of files) {
    if (f.path.endsWith(".sources")) {
      for (const s of parseDeb822(f.text)) {
        const types = (s.types ?? "").split(/\s+/);
        const suites = (s.suites ?? "").split(/\s+/);
        if (!isEnabled(s) || !types.includes("deb") || !suites.includes(codename) || !s.uris) continue;
        const lines = [
          "Types: deb",
          `URIs: ${s.uris}`,
          `Suites: ${codename}-backports`,
          `Components: ${s.components ?? "main"}`,
        ];
        if (s["signed-by"]) lines.push(field("Signed-By", s["signed-by"]));
        return lines.join("\n") + "\n";
      }
    } else {
      for (const e of parseOneLine(f.text)) {
        if (e.type !== "deb" || e.suite !== codename) continue;
        const lines = [
          "Types: deb",
          `URIs: ${e.uri}`,
          `Suites: ${codename}-backports`,
          `Components: ${e.components.join(" ") || "main"}`,
        ];
        const signed = /signed-by=(\S+)/.exec(e.options);
        if (signed) lines.push(`Signed-By: ${signed[1]}`);
        return lines.join("\n") + "\n";
      }
    }
  }
  return undefined;
}
