import { describe, expect, it } from 'vitest';
import { AccountBusyError, AccountGate } from './account-gate.js';

describe('AccountGate', () => {
  it('lets `concurrency` requests of one account run, queues the next in order, and leaves other accounts alone', async () => {
    const gate = new AccountGate(2, 60_000);
    const a1 = await gate.acquire('a');
    const a2 = await gate.acquire('a');
    expect(gate.inFlight('a')).toBe(2);
    const order: string[] = [];
    const a3 = gate.acquire('a').then((release) => (order.push('a3'), release));
    const a4 = gate.acquire('a').then((release) => (order.push('a4'), release));
    // Another account is not behind account a.
    const b1 = await gate.acquire('b');
    expect(gate.inFlight('b')).toBe(1);
    a1();
    a1(); // releasing twice gives back one slot only
    const release3 = await a3;
    expect(order).toEqual(['a3']);
    expect(gate.inFlight('a')).toBe(2);
    a2();
    const release4 = await a4;
    expect(order).toEqual(['a3', 'a4']);
    release3();
    release4();
    b1();
    expect(gate.inFlight('a')).toBe(0);
    expect(gate.inFlight('b')).toBe(0);
  });

  it('refuses a request whose turn does not come within the queue time, and one beyond the queue length at once', async () => {
    const gate = new AccountGate(1, 20, 1);
    const held = await gate.acquire('a');
    const waiting = gate.acquire('a');
    await expect(gate.acquire('a')).rejects.toBeInstanceOf(AccountBusyError);
    const error = await waiting.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AccountBusyError);
    const scim = (error as AccountBusyError).toScim();
    expect(scim.status).toBe(503);
    expect(scim.headers['Retry-After']).toBe('1');
    held();
    expect(gate.inFlight('a')).toBe(0);
    const again = await gate.acquire('a');
    again();
  });

  it('with no queue time, refuses at once when the share is taken', async () => {
    const gate = new AccountGate(1, 0);
    const held = await gate.acquire('a');
    await expect(gate.acquire('a')).rejects.toBeInstanceOf(AccountBusyError);
    held();
  });
});
