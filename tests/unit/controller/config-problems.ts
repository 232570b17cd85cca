import { ConfigError } from '../../../src/controller/config.js';

/** The problems of the ConfigError that `f` throws; anything else fails the test. */
export function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
