import { describe } from 'vitest';
import { checks } from '../../src/kernels/softmax.check.js';
import { runChecks } from '../node-gpu.js';

describe('row softmax vs float64 reference', () => runChecks(checks));
