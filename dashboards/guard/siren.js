// A loud, unmistakable alert: a two-tone siren made with Web Audio (no sound files, so it
// also works offline) and the vibration motor where the browser allows it.
//
// Browsers only let a page make sound after a user gesture: the page calls unlock() from
// its "start duty" tap; until then alerts are silent (the page says so) but still shown.

const PATTERNS = {
  // seconds of siren per alert, and whether it repeats until acknowledged
  critical: { tones: 6, repeat: true, vibrate: [600, 200, 600, 200, 600, 200, 600] },
  major: { tones: 4, repeat: false, vibrate: [400, 150, 400, 150, 400] },
  minor: { tones: 2, repeat: false, vibrate: [300, 150, 300] },
  warning: { tones: 1, repeat: false, vibrate: [200] },
};
const TONE_S = 0.35;

export class Siren {
  constructor() {
    this.ctx = null;
    this.loop = null;
  }

  /** From a user gesture: create (or resume) the audio context. True when sound works. */
  async unlock() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return false;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state === "suspended") await this.ctx.resume();
      return this.ctx.state === "running";
    } catch (err) {
      console.warn("audio unavailable", err);
      return false;
    }
  }

  get unlocked() {
    return Boolean(this.ctx && this.ctx.state === "running");
  }

  /** Sound and vibrate for an alert of this severity. */
  alert(severity) {
    const p = PATTERNS[severity] || PATTERNS.major;
    if (navigator.vibrate) {
      try {
        navigator.vibrate(p.vibrate);
      } catch {
        // not allowed without a gesture in some browsers
      }
    }
    this.play(p.tones);
    if (p.repeat && !this.loop) {
      this.loop = setInterval(() => {
        this.play(p.tones);
        if (navigator.vibrate) navigator.vibrate(p.vibrate);
      }, (p.tones * TONE_S + 1.5) * 1000);
    }
  }

  /** Stop a repeating siren (the critical alert was acknowledged). */
  silence() {
    clearInterval(this.loop);
    this.loop = null;
    if (navigator.vibrate) navigator.vibrate(0);
  }

  play(tones) {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== "running") return;
    const start = ctx.currentTime + 0.02;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    for (let i = 0; i < tones; i += 1) {
      osc.frequency.setValueAtTime(i % 2 ? 770 : 960, start + i * TONE_S);
    }
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.6, start + 0.03);
    gain.gain.setValueAtTime(0.6, start + tones * TONE_S - 0.05);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + tones * TONE_S);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + tones * TONE_S + 0.05);
  }
}
