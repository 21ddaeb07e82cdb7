import { cronMatches, parseCron } from '../../../src/core/cron';
import { TIMER_SCHEDULES } from '../../../src/app/config';

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

  it.each([
    '* * * * *',
    '0 */5 * * * * *',
    '60 * * * * *',
    '0 0 0 0 * *',
    '0 0 0 * 13 *',
    '0 0 0 * * Mon',
    '*/0 * * * * *',
    '5-1 * * * * *',
    '',
  ])('refuses %j naming the field', (text) => {
    expect(() => parseCron(text, 'ACR_GUARD_ALERT_SCHEDULE')).toThrow(/ACR_GUARD_ALERT_SCHEDULE: expected/);
  });
});
