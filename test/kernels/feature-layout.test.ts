import { describe } from 'vitest';
import { checks } from '../checks/feature-layout.js';
import { runChecks } from '../node-gpu.js';

describe('feature layout (stitched patch maps) vs CPU reference', () => runChecks(checks));
