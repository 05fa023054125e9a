import { describe, expect, test } from 'vitest';
import { RetryAfterBrake } from '../../src/http/retry-after-brake.js';

describe('RetryAfterBrake', () => {
  test('holds until the Retry-After passes; answers of the same burst extend one hold', () => {
    let now = 1000;
    const brake = new RetryAfterBrake(120_000, () => now);
    expect(brake.waitMs()).toBe(0);
    brake.hold(1000);
    expect(brake.waitMs()).toBe(1000);
    now += 300;
    brake.hold(500); // ends before the first one: changes nothing
    expect(brake.waitMs()).toBe(700);
    brake.hold(2000);
    expect(brake.waitMs()).toBe(2000);
    expect(brake.holds).toBe(1);
    now += 2000;
    expect(brake.waitMs()).toBe(0);
    brake.hold(10);
    expect(brake.holds).toBe(2);
  });

  test('a wait longer than the cap is cut to the cap', () => {
    const brake = new RetryAfterBrake(5000, () => 0);
    brake.hold(3_600_000);
    expect(brake.waitMs()).toBe(5000);
  });
});
