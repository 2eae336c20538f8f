// The app's worker file, exactly as README (Weight cache, aborting, workers) tells apps to write it.
import { serveModel } from '../../../src/worker.js';

serveModel(self);
