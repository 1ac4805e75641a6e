/**
 * The data-plane benchmark runs end to end at toy sizes (the real run is 200 files + 1 GiB, by hand).
 */
import { benchDataPlane } from '../../../scripts/bench/dataplane';

it('benchDataPlane measures gfal2 and xrdcp on the same files', async () => {
  const r = await benchDataPlane({ files: 20, sizeBytes: 2000, largeBytes: 8 << 20, tpcFiles: 2 });
  expect(r.small.files).toBe(20);
  for (const v of [
    r.small.gfal2StreamMsPerFile,
    r.small.xrdcpMsPerFile,
    r.small.ratio,
    r.small.gfal2TpcSecondsPerFile!,
  ])
    expect(v).toBeGreaterThan(0);
  expect(r.large!.bytes).toBe(8 << 20);
  expect(r.large!.gfal2Seconds).toBeGreaterThan(0);
  expect(r.large!.xrdcpSeconds).toBeGreaterThan(0);
});
