/** The record of acr-guard's promotion writes: exact destination match, bounded in entries and age. */
import { MAX_PROMOTION_RECORDS, PROMOTION_RECORD_TTL_MS, PromotionRecord } from '../../../src/core/promotions';

const image = (n: number, repository = 'release/team/api') => ({
  registry: '127.0.0.1:5000',
  repository,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
});

describe('PromotionRecord', () => {
  it('knows exactly the destination repository and digest written, for its age only', () => {
    const record = new PromotionRecord();
    record.record(image(1), 1000);
    expect(record.wrote(image(1), 1000 + PROMOTION_RECORD_TTL_MS)).toBe(true);
    expect(record.wrote(image(1, 'team/api'), 1000)).toBe(false);
    expect(record.wrote(image(2), 1000)).toBe(false);
    expect(record.wrote(image(1), 1001 + PROMOTION_RECORD_TTL_MS)).toBe(false);
  });

  it(`keeps at most ${MAX_PROMOTION_RECORDS} writes, dropping the oldest (whose notification is then gated)`, () => {
    const record = new PromotionRecord();
    for (let i = 0; i <= MAX_PROMOTION_RECORDS; i++) record.record(image(i), 0);
    expect(record.size).toBe(MAX_PROMOTION_RECORDS);
    expect(record.wrote(image(0), 0)).toBe(false);
    expect(record.wrote(image(MAX_PROMOTION_RECORDS), 0)).toBe(true);
  });
});
