import { describe } from 'vitest';
import { checks } from '../checks/pixel-shuffle.js';
import { runChecks } from '../node-gpu.js';

describe('pixel shuffle (InternVL v1/v2) vs CPU reference', () => runChecks(checks));
