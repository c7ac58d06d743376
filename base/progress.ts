// progress.ts (base): a one-line progress bar on stderr for long work — redrawn in place on a terminal, a
// plain line every tenth of the way otherwise (logs and CI stay readable).

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private lastDecile = -1;
  private drawn = false;

  constructor(
    private readonly total: number,
    private readonly width = 24,
  ) {}

  update(done: number, status: string): void {
    const frac = Math.min(1, done / Math.max(1, this.total));
    if (this.tty) {
      const filled = Math.round(frac * this.width);
      const bar = "█".repeat(filled) + "░".repeat(this.width - filled);
      const line = `${bar} ${String(done).padStart(String(this.total).length)}/${this.total}  ${status}`;
      const cols = process.stderr.columns ?? 120;
      process.stderr.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
      this.drawn = true;
    } else {
      const decile = Math.floor(frac * 10);
      if (decile > this.lastDecile) {
        this.lastDecile = decile;
        process.stderr.write(`${done}/${this.total}  ${status}\n`);
      }
    }
  }

  /** Ends the bar's line so that what follows starts on a fresh one. */
  done(): void {
    if (this.tty && this.drawn) process.stderr.write("\n");
    this.drawn = false;
  }
}
