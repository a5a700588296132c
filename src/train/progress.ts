// Training progress on stderr: a one-line bar redrawn in place when stderr is a TTY (epoch, step,
// loss, clean and adversarial batch accuracy, images/s, ETA), plain lines every `every` steps
// otherwise (CI, pipes, files). Twenty lines of string formatting: no dependency needed.
import type { StepProgress } from './train.ts';

export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** "1:05:09", "4:07", "0:09". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/** The figures of one progress report, without the bar. */
export function progressText(p: StepProgress, etaSeconds: number): string {
  const adv = p.advAcc === null ? '' : `  adv ${(100 * p.advAcc).toFixed(1)}%`;
  return `epoch ${p.epoch}/${p.epochs}  step ${p.batch}/${p.batches}  loss ${p.loss.toFixed(3)}  clean ${(100 * p.cleanAcc).toFixed(1)}%${adv}  ${p.imagesPerSec.toFixed(0)} img/s  ETA ${formatDuration(etaSeconds)}`;
}

export class Progress {
  private readonly t0 = performance.now();
  private startStep = -1;
  private drawn = false;

  constructor(private readonly out: ProgressSink, private readonly every = 50) {}

  /** Call after every step. */
  step(p: StepProgress): void {
    if (this.startStep < 0) this.startStep = p.step - 1;
    const done = p.step - this.startStep;
    const secs = (performance.now() - this.t0) / 1000;
    const eta = done > 0 ? (secs / done) * (p.totalSteps - p.step) : NaN;
    const text = progressText(p, eta);
    if (this.out.isTTY) {
      const width = 24, filled = Math.round((width * p.batch) / p.batches);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
      this.out.write(`\r${line.slice(0, Math.max(20, (this.out.columns ?? 120) - 1))}\x1b[K`);
      this.drawn = true;
    } else if (this.every > 0 && (p.step % this.every === 0 || p.batch === p.batches)) {
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the bar's line before other output. */
  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
