import { cronMatches, parseCron } from '../../../src/core/cron';
import { TIMER_SCHEDULES } from '../../../src/app/timerConfig';

const at = (iso: string) => new Date(iso);

describe('NCRONTAB schedules of the local timers', () => {
  it('reads the shipped defaults', () => {
    const alerts = parseCron(TIMER_SCHEDULES.ACR_GUARD_ALERT_SCHEDULE);
    expect(cronMatches(alerts, at('2026-01-01T10:05:00Z'))).toBe(true);
    expect(cronMatches(alerts, at('2026-01-01T10:05:01Z'))).toBe(false);
    expect(cronMatches(alerts, at('2026-01-01T10:06:00Z'))).toBe(false);
    const rotation = parseCron(TIMER_SCHEDULES.ACR_GUARD_ROTATION_SCHEDULE);
    expect(cronMatches(rotation, at('2026-03-04T03:30:00Z'))).toBe(true);
    expect(cronMatches(rotation, at('2026-03-04T04:30:00Z'))).toBe(false);
  });

  it('understands lists, ranges, steps and Sunday as 0 or 7', () => {
    const s = parseCron('0,30 0-10/5 9-17 * 1,6 7');
    expect(cronMatches(s, at('2026-06-07T09:05:30Z'))).toBe(true); // a Sunday in June
    expect(cronMatches(s, at('2026-06-07T09:06:30Z'))).toBe(false);
    expect(cronMatches(s, at('2026-06-08T09:05:30Z'))).toBe(false); // Monday
    expect(cronMatches(parseCron('* * * * * 0'), at('2026-06-07T00:00:00Z'))).toBe(true);
  });

  it('reads day and month names as the NCRONTAB of Azure does (Mon-Fri, Jan)', () => {
    const weekdays = parseCron('0 0 9 * * Mon-Fri');
    expect(cronMatches(weekdays, at('2026-12-07T09:00:00Z'))).toBe(true); // Monday
    expect(cronMatches(weekdays, at('2026-12-11T09:00:00Z'))).toBe(true); // Friday
    expect(cronMatches(weekdays, at('2026-12-12T09:00:00Z'))).toBe(false); // Saturday
    expect(cronMatches(parseCron('0 0 0 1 jan,JUL *'), at('2026-07-01T00:00:00Z'))).toBe(true);
  });

  it('requires both the day of month and the day of week when both are restricted (NCrontab, not Vixie cron)', () => {
    const s = parseCron('0 0 12 16 * Mon');
    expect(cronMatches(s, at('2026-11-16T12:00:00Z'))).toBe(true); // Monday the 16th
    expect(cronMatches(s, at('2026-12-16T12:00:00Z'))).toBe(false); // Wednesday the 16th
    expect(cronMatches(s, at('2026-12-07T12:00:00Z'))).toBe(false); // a Monday, the 7th
  });

  it.each([
    '* * * * *',
    '0 */5 * * * * *',
    '60 * * * * *',
    '0 0 0 0 * *',
    '0 0 0 * 13 *',
    '0 0 0 * * L',
    '0 0 0 15W * *',
    '0 0 0 * * 5#3',
    '0 0 0 ? * *',
    '0 0 0 * * Monday',
    '*/0 * * * * *',
    '5-1 * * * * *',
    '',
  ])('refuses %j naming the field', (text) => {
    expect(() => parseCron(text, 'ACR_GUARD_ALERT_SCHEDULE')).toThrow(/ACR_GUARD_ALERT_SCHEDULE: expected/);
  });
});
