import { describe } from 'vitest';
import { checks } from '../checks/gpu-errors.js';
import { runChecks } from '../node-gpu.js';

describe('GPU errors as kernel checks (the same checks run in Chromium and selfcheck)', () => runChecks(checks));
