// Worker thread of the decode pool (built to dist/dataset-worker.js): reads a file or takes the bytes
// it is sent, decodes and preprocesses them (decode.ts) and sends the tiles back, transferred.
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { decodeJob, type DecodeJob } from './decode-job.js';

if (!parentPort) throw new Error('dataset-worker.js runs as a worker thread of internvit embed-dataset');
const port = parentPort;
port.on('message', (job: DecodeJob) => {
  void decodeJob(job, readFile).then((reply) => port.postMessage(reply, reply.ok ? [reply.pixels.buffer as ArrayBuffer] : []));
});
