// apt-sources.test.ts: the backports source that setup derives from the machine's own apt sources, on
// fixture files in both formats (host names in the fixtures are placeholders).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  type AptSourceFile,
  deriveBackportsSource,
  hasBackports,
  parseDeb822,
  parseOneLine,
} from "../../scripts/lib/apt-sources.mjs";

const FIXTURES = join(import.meta.dirname, "../fixtures/apt");
const file = (name: string): AptSourceFile => ({
  path: `/etc/apt/sources.list.d/${name}`,
  text: readFileSync(join(FIXTURES, name), "utf8"),
});

describe("parsers", () => {
  test("deb822: stanzas, lower-cased fields, comments skipped", () => {
    const stanzas = parseDeb822(file("debian12.sources").text);
    expect(stanzas).toHaveLength(2);
    expect(stanzas[1]).toEqual({
      types: "deb",
      uris: "http://mirror.example/debian",
      suites: "bookworm bookworm-updates",
      components: "main",
      "signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg",
    });
  });

  test("deb822: continuation lines (an inline key) join the field", () => {
    const [s] = parseDeb822(file("inline-key.sources").text);
    expect(s["signed-by"].split("\n")).toEqual([
      "",
      "-----BEGIN PGP PUBLIC KEY BLOCK-----",
      ".",
      "mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w",
      "-----END PGP PUBLIC KEY BLOCK-----",
    ]);
    expect(s.components).toBe("main contrib");
  });

  test("one-line: type, [options], URI, suite, components; comments dropped", () => {
    const entries = parseOneLine(file("oneline.list").text);
    expect(entries).toHaveLength(4);
    expect(entries[2]).toEqual({
      type: "deb",
      options: "arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg",
      uri: "http://mirror.example/debian",
      suite: "bookworm",
      components: ["main", "contrib", "non-free-firmware"],
    });
    expect(entries[0]).toMatchObject({ type: "deb-src", options: "", suite: "bookworm" });
  });
});

describe("deriveBackportsSource", () => {
  test("deb822 (Debian 12): reuses the release's URI, components and key — not the security stanza's", () => {
    expect(deriveBackportsSource([file("debian12.sources")], "bookworm")).toBe(
      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\n" +
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    );
  });

  test("one-line .list with [signed-by=…]: skips deb-src and -security entries", () => {
    expect(deriveBackportsSource([file("oneline.list")], "bookworm")).toBe(
      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\n" +
        "Components: main contrib non-free-firmware\n" +
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    );
  });

  test("a disabled stanza and deb-src entries are not used", () => {
    expect(deriveBackportsSource([file("disabled.sources")], "bookworm")).toBeUndefined();
  });

  test("no source for the release → undefined", () => {
    expect(deriveBackportsSource([file("other-release.list")], "bookworm")).toBeUndefined();
    expect(deriveBackportsSource([], "bookworm")).toBeUndefined();
  });

  test("the first file with a matching entry wins", () => {
    expect(
      deriveBackportsSource([file("other-release.list"), file("oneline.list"), file("debian12.sources")], "bookworm"),
    ).toMatch(/^Components: main contrib non-free-firmware$/m);
  });

  test("an inline key stays a valid deb822 field: its continuation lines are indented", () => {
    const derived = deriveBackportsSource([file("inline-key.sources")], "bookworm")!;
    const [again] = parseDeb822(derived);
    expect(again.suites).toBe("bookworm-backports");
    expect(again["signed-by"]).toBe(parseDeb822(file("inline-key.sources").text)[0]["signed-by"]);
    expect(derived).toMatch(/^Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n \.\n /m);
  });
});

describe("hasBackports", () => {
  test("false when only the release and its updates are configured", () => {
    expect(hasBackports([file("debian12.sources"), file("oneline.list")], "bookworm")).toBe(false);
  });

  test("true for a deb822 stanza or a one-line entry serving <codename>-backports", () => {
    expect(hasBackports([file("with-backports.sources")], "bookworm")).toBe(true);
    expect(hasBackports([file("with-backports.list")], "bookworm")).toBe(true);
    expect(hasBackports([file("with-backports.sources")], "trixie")).toBe(false);
  });

  test("a disabled stanza does not count", () => {
    expect(hasBackports([file("disabled.sources")], "bookworm")).toBe(false);
  });
});
