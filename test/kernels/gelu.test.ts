import { describe } from 'vitest';
import { checks } from '../checks/gelu.js';
import { runChecks } from '../node-gpu.js';

describe('gelu (exact erf) vs float64 reference', () => runChecks(checks));
