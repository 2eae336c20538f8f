import { describe } from 'vitest';
import { checks } from '../../src/kernels/feature-layout.check.js';
import { runChecks } from '../node-gpu.js';

describe('feature layout (stitched patch maps) vs CPU reference', () => runChecks(checks));
