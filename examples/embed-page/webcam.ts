// Webcam mode of the embed demo: getUserMedia → <video> → model.embed(video) per frame. The frame
// goes to the GPU with copyExternalImageToTexture and is preprocessed there (CLIP crop), so nothing
// but the pooled embedding (D floats) comes back to JavaScript. Shown: time per frame, and the
// cosine similarity of each frame's pooled embedding to a reference frame (the first one, or the one
// picked with the button). Without a camera (or permission) it says so.
import type { InternViT } from '../../src/api.js';
import { tokenCosine } from '../../src/model/precision.js';

export interface WebcamState {
  frames: number;
  /** Why the webcam mode is not running (no camera, no permission, no getUserMedia). */
  unavailable?: string;
  error?: string;
  msPerFrame?: number;
  similarity?: number;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function setupWebcam(modelReady: Promise<InternViT>, state: { webcam?: WebcamState }, autoStart: boolean): void {
  const start = $<HTMLButtonElement>('webcam-start');
  const pick = $<HTMLButtonElement>('webcam-ref');
  const status = $('webcam-status');
  const video = $<HTMLVideoElement>('webcam');
  let reference: Float32Array | null = null;
  let stream: MediaStream | null = null;
  const webcam: WebcamState = { frames: 0 };
  state.webcam = webcam;

  const stop = () => {
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = null;
    start.textContent = 'start webcam';
    pick.disabled = true;
  };

  async function begin(): Promise<void> {
    if (stream) return stop();
    if (!navigator.mediaDevices?.getUserMedia) {
      webcam.unavailable = 'this browser offers no camera access here (navigator.mediaDevices is missing: it needs https or localhost)';
      status.textContent = webcam.unavailable;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (e) {
      const err = e as DOMException;
      webcam.unavailable = err.name === 'NotFoundError' || err.name === 'OverconstrainedError'
        ? 'no camera found: connect one and press the button again'
        : err.name === 'NotAllowedError' ? 'camera permission was denied' : `the camera could not be opened: ${err.name}: ${err.message}`;
      status.textContent = webcam.unavailable;
      return;
    }
    webcam.unavailable = undefined;
    video.srcObject = stream;
    video.style.display = 'block';
    await video.play();
    start.textContent = 'stop webcam';
    pick.disabled = false;
    const model = await modelReady;
    const D = model.config.vision.hiddenSize;
    // One frame at a time: the next frame is taken when the model is done with this one.
    while (stream) {
      if (video.readyState < 2) {
        await new Promise((r) => setTimeout(r, 30));
        continue;
      }
      try {
        const t0 = performance.now();
        const r = await model.embed(video, { preprocess: 'clip' });
        webcam.msPerFrame = performance.now() - t0;
        const pooled = r.poolerOutput.data;
        if (!reference) reference = pooled.slice();
        webcam.similarity = tokenCosine(pooled, reference, D).min;
        webcam.frames++;
        status.textContent = `frame ${webcam.frames}: ${webcam.msPerFrame.toFixed(0)} ms; cosine to the reference frame ${webcam.similarity.toFixed(4)}`;
      } catch (e) {
        webcam.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        status.textContent = webcam.error;
        stop();
      }
    }
  }

  start.addEventListener('click', () => void begin());
  pick.addEventListener('click', () => {
    reference = null; // the next frame becomes the reference
  });
  if (autoStart) void begin();
}
