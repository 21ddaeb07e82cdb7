/**
 * Webhook JSON flavours: the shapes Teams (MessageCard connector, Workflows Adaptive Card envelope) and Slack
 * (`text`) read, carrying the alert's title and every field.
 */
import { webhookPayload } from '../../../src/adapters/alertSinks';
import type { Alert } from '../../../src/core/alerts/evaluate';

const ALERT: Alert = {
  kind: 'incident',
  rule: 'image-pull-failures',
  severity: 'high',
  title: 'image-pull-failures: 5 > 3 in 10m (App=api)',
  incidentId: 'x'.repeat(64),
  raisedAt: '2026-11-22T10:00:00.000Z',
  fields: { App: 'api', Count: 5, Identities: ['a', 'b'] },
};

describe('webhook payloads', () => {
  it('messagecard: Teams MessageCard with facts, and a text Slack shows', () => {
    const p = webhookPayload(ALERT);
    expect(p).toMatchObject({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: ALERT.title,
      themeColor: 'D83B01',
      title: `[HIGH] ${ALERT.title}`,
    });
    expect(p.text).toBe(`[HIGH] ${ALERT.title}\nApp: api\nCount: 5\nIdentities: ["a","b"]`);
    expect((p.sections as Array<{ facts: unknown[] }>)[0].facts).toEqual([
      { name: 'App', value: 'api' },
      { name: 'Count', value: '5' },
      { name: 'Identities', value: '["a","b"]' },
    ]);
  });

  it('adaptivecard: the Teams Workflows envelope with an Adaptive Card 1.4', () => {
    const p = webhookPayload(ALERT, 'adaptivecard') as {
      type: string;
      attachments: Array<{
        contentType: string;
        content: { type: string; version: string; body: Array<{ type: string; facts?: unknown[] }> };
      }>;
    };
    expect(p.type).toBe('message');
    expect(p.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(p.attachments[0].content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(p.attachments[0].content.body.find((b) => b.type === 'FactSet')!.facts).toHaveLength(3);
  });

  it('slack: text only', () => {
    expect(Object.keys(webhookPayload(ALERT, 'slack'))).toEqual(['text']);
  });
});
