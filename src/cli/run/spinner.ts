const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS = 80;

/**
 * A one-line spinner with a label on a terminal (stderr). `hide()` before anything else is
 * written to the terminal; it comes back with the next `show()`.
 */
export class Spinner {
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private label = '';
  private visible = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly paint: (text: string) => string,
  ) {}

  show(label = this.label): void {
    this.label = label;
    this.timer ??= setInterval(() => this.draw(), INTERVAL_MS);
    this.draw();
  }

  hide(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.visible) this.stream.write('\r\x1b[2K');
    this.visible = false;
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    this.stream.write(`\r\x1b[2K${this.paint(`${FRAMES[this.frame]} ${this.label}`)}`);
    this.visible = true;
  }
}
