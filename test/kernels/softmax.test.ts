import { describe } from 'vitest';
import { checks } from '../checks/softmax.js';
import { runChecks } from '../node-gpu.js';

describe('row softmax vs float64 reference', () => runChecks(checks));
