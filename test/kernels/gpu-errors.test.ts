import { describe } from 'vitest';
import { checks } from '../../src/runtime/gpu-errors.check.js';
import { runChecks } from '../node-gpu.js';

describe('GPU errors as kernel checks (the same checks run in Chromium and selfcheck)', () => runChecks(checks));
