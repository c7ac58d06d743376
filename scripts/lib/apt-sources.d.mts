// Types of apt-sources.mjs, for TypeScript callers (its tests).

/** An apt source file: its path (the extension decides the format) and its text. */
export interface AptSourceFile {
  readonly path: string;
  readonly text: string;
}

/** A deb822 stanza: lower-cased field name → value (continuation lines joined by "\n"). */
export type Deb822Stanza = Record<string, string>;

export interface OneLineEntry {
  readonly type: "deb" | "deb-src";
  readonly options: string;
  readonly uri: string;
  readonly suite: string;
  readonly components: string[];
}

export function parseDeb822(text: string): Deb822Stanza[];
export function parseOneLine(text: string): OneLineEntry[];
export function hasBackports(files: readonly AptSourceFile[], codename: string): boolean;
export function deriveBackportsSource(files: readonly AptSourceFile[], codename: string): string | undefined;
