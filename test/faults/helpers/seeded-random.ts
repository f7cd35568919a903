/**
 * A small seeded PRNG (mulberry32), so a run's random kill points can be replayed: the
 * seed is printed with the results and `FAULTS_SEED=<seed>` repeats it.
 */
export class SeededRandom {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): SeededRandom {
    const given = env.FAULTS_SEED === undefined ? Number.NaN : Number(env.FAULTS_SEED);
    return new SeededRandom(Number.isInteger(given) ? given : Math.floor(Math.random() * 2 ** 32));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}
