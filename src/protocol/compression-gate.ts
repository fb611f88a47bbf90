/**
 * CompressionGate decides, message by message, whether permessage-deflate compresses an
 * outgoing message or sends it as is (RSV1 clear, which RFC 7692 6 always allows), so that
 * data that does not compress (random, encrypted or already compressed bytes) costs no
 * deflate work. The rule (docs/design/deflate-skip.md):
 *
 * 1. A cheap estimate: the byte entropy of a sample of the message (up to 1 KiB, in four
 *    slices). Bytes that look uniformly random predict no gain.
 * 2. The ratio seen last: when the last message compressed saved less than MIN_SAVING
 *    although the estimate did not call it random, the next ones are predicted to gain
 *    nothing too.
 * 3. A message predicted to gain nothing is sent uncompressed, except every `probeEvery`-th
 *    one, which is compressed anyway (a probe). A probe that pays proves the prediction
 *    wrong for this traffic: a paying probe of data the estimate called random stops trusting
 *    the estimate (until a message it called random fails to pay again), and `probeEvery`
 *    goes back to its start; a probe that does not pay doubles `probeEvery`, up to a bound.
 *
 * Skipped messages simply do not enter the compressor's window (RFC 7692 7.1.1: only
 * compressed messages are part of the context), which the caller handles.
 */
export class CompressionGate {
  /** Consecutive messages predicted to gain nothing since the last probe. */
  private skipped = 0;
  private probeEvery = PROBE_FIRST;
  /** The last message compressed saved less than MIN_SAVING. */
  private lastFailed = false;
  /** False once a probe showed that data the estimate called random does compress here. */
  private trustEstimate = true;

  /**
   * admit returns whether to compress `payload`: 'compress', 'probe' (compress although
   * the prediction says it will not pay) or 'skip'. Call `record` after compressing.
   */
  admit(payload: Uint8Array): 'compress' | 'probe' | 'skip' {
    const random = looksRandom(payload);
    const predictedNoGain = this.lastFailed || (random && this.trustEstimate);
    if (!predictedNoGain) return 'compress';
    if (++this.skipped < this.probeEvery) return 'skip';
    this.skipped = 0;
    return 'probe';
  }

  /**
   * record takes the outcome of a compression: `original` bytes became `compressed` bytes.
   * `probe` tells whether `admit` said 'probe'.
   */
  record(payload: Uint8Array, compressed: number, probe: boolean): void {
    const paid = pays(payload.length, compressed);
    const random = looksRandom(payload);
    // A failure the estimate explains (random-looking data) says nothing about the messages
    // that look compressible; a failure it missed makes the next ones suspect too.
    this.lastFailed = !paid && !random;
    if (probe) this.probeEvery = paid ? PROBE_FIRST : Math.min(this.probeEvery * 2, PROBE_MAX);
    if (paid) this.skipped = 0;
    if (paid && probe && random) this.trustEstimate = false;
    else if (!paid && random) this.trustEstimate = true;
  }
}

/** A compressed message must save at least this share of its size to pay for the work (both sides'). */
export const MIN_SAVING = 1 / 16;
/** The first probe comes after this many skipped messages; each failed probe doubles it. */
export const PROBE_FIRST = 8;
export const PROBE_MAX = 128;

/** pays tells whether `compressed` bytes are worth sending instead of `original` ones. */
export function pays(original: number, compressed: number): boolean {
  return compressed <= original - original * MIN_SAVING;
}

/** Bytes sampled by the estimate: the whole message up to this size, else four slices of a quarter. */
const SAMPLE = 1024;
const SLICE = SAMPLE / 4;
/** Below this many sampled bytes the estimate says nothing (the message is compressed as before). */
const MIN_SAMPLE = 256;
const counts = new Uint16Array(256);
/** xlog2x[c] = c * log2(c), for the entropy sum. */
const xlog2x = new Float64Array(SAMPLE + 1);
for (let c = 2; c <= SAMPLE; c++) xlog2x[c] = c * Math.log2(c);

/**
 * looksRandom estimates whether `payload` would not compress: the Shannon entropy of its
 * sampled bytes is close to what uniformly random bytes of that sample size show (about
 * 7.8 bits per byte for 1 KiB; JSON shows 4.5, base64 6, hex 4). Deflate's Huffman stage
 * alone brings any data under about 7.5 bits per byte down by the difference, so only
 * near-uniform bytes are called random. It reads at most 1 KiB, whatever the size.
 */
export function looksRandom(payload: Uint8Array): boolean {
  const n = Math.min(payload.length, SAMPLE);
  if (n < MIN_SAMPLE) return false;
  counts.fill(0);
  if (payload.length <= SAMPLE) {
    for (let i = 0; i < n; i++) counts[payload[i]!]!++;
  } else {
    const step = Math.floor((payload.length - SLICE) / 3);
    for (let s = 0; s < 4; s++) {
      const start = s * step;
      for (let i = start; i < start + SLICE; i++) counts[payload[i]!]!++;
    }
  }
  let sum = 0;
  for (let b = 0; b < 256; b++) sum += xlog2x[counts[b]!]!;
  const entropy = Math.log2(n) - sum / n;
  // Uniform bytes show about 8 - 255 / (2 n ln 2) bits for n samples (the small-sample
  // bias); allow 0.3 bits below that.
  return entropy > 8 - 255 / (2 * n * Math.LN2) - 0.3;
}
