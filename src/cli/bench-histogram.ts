import hdr from 'hdr-histogram-js';

/** Histogram is an HDR histogram of latencies in microseconds (hdr-histogram-js). */
export type Histogram = hdr.Histogram;

/**
 * newHistogram makes a latency histogram in microseconds: 3 significant digits (values are
 * kept to within 0.1 %), resized as needed, so a 30 s stall is recorded as it is, not
 * clipped. Plain JS (no WebAssembly) so that worker threads start fast.
 */
export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** encodeHistogram packs a histogram for a message between threads (the HdrHistogram compressed format). */
export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** decodeHistogram unpacks what encodeHistogram packed. */
export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}
