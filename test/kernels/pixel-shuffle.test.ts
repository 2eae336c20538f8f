import { describe } from 'vitest';
import { checks } from '../../src/kernels/pixel-shuffle.check.js';
import { runChecks } from '../node-gpu.js';

describe('pixel shuffle (InternVL v1/v2) vs CPU reference', () => runChecks(checks));
