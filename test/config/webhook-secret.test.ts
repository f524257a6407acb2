/** WEBHOOK_SECRET is checked at start-up with the signer's own rules, so the API never accepts a callbackUrl the worker cannot sign. */
import { ConfigError, loadConfig } from '../../src/config/config';
import { loadSettings } from '../../src/main/settings';

test('a whsec_ secret too short to sign with stops the process with a message naming the variable', () => {
  expect(() => loadSettings({ WEBHOOK_SECRET: `whsec_${'A'.repeat(26)}` })).toThrow(ConfigError);
  expect(() => loadSettings({ WEBHOOK_SECRET: `whsec_${'A'.repeat(26)}` })).toThrow(/WEBHOOK_SECRET: .*at least 24 bytes/);
});

test('a whsec_ secret of 32 bytes and a raw 32-character secret are accepted', () => {
  const whsec = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  expect(loadConfig({ WEBHOOK_SECRET: whsec }).webhooks.secret).toBe(whsec);
  expect(loadConfig({ WEBHOOK_SECRET: 'r'.repeat(32) }).webhooks.secret).toBe('r'.repeat(32));
});
