// Password strength at registration: zxcvbn-ts (the maintained TypeScript zxcvbn),
// English feedback, the qwerty and keypad keyboard graphs and the most common passwords
// of @zxcvbn-ts/language-common. The full list (49,233 passwords, about 200 KiB
// gzipped) does not fit the app's JS budget; vite.config.ts bundles its first
// COMMON_PASSWORDS entries (the list is ranked by frequency; digits-only ones left out), and zxcvbn's matchers for
// dates, sequences, repeats, keyboard patterns, l33t and brute force do the rest.

import { ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { adjacencyGraphs } from '@zxcvbn-ts/language-common';
import { translations } from '@zxcvbn-ts/language-en';
import commonPasswords from 'virtual:common-passwords';

/** zxcvbn scores 0..4; 3 is "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_SCORE = 3;

let factory: ZxcvbnFactory | null = null;
const zxcvbn = () =>
  (factory ??= new ZxcvbnFactory({
    translations,
    graphs: { qwerty: adjacencyGraphs.qwerty, keypad: adjacencyGraphs.keypad },
    dictionary: { passwords: commonPasswords },
    useLevenshteinDistance: true,
  }));

export interface Strength {
  score: 0 | 1 | 2 | 3 | 4;
  ok: boolean;
  /** The estimator's feedback: a warning and suggestions, as sentences. */
  feedback: string;
  label: string;
}

const LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'];

/** `userInputs`: words the password must not lean on (the username, the app's name). */
export function passwordStrength(password: string, userInputs: string[] = []): Strength {
  const r: ZxcvbnResult = zxcvbn().check(password, ['sealpost', ...userInputs]);
  const parts = [r.feedback.warning, ...r.feedback.suggestions].filter((x): x is string => !!x);
  if (r.score < MIN_SCORE && !parts.length) parts.push('Add another word or two. Uncommon words are better.');
  return { score: r.score, ok: r.score >= MIN_SCORE, feedback: parts.join(' '), label: LABELS[r.score] };
}
