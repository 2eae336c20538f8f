import { describe } from 'vitest';
import { checks } from '../../src/kernels/gelu.check.js';
import { runChecks } from '../node-gpu.js';

describe('gelu (exact erf) vs float64 reference', () => runChecks(checks));
