// Does this browser give a dedicated worker a WebGPU adapter? Answers true or false to any message.
self.onmessage = async () => {
  const adapter = await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter().catch(() => null);
  (self as unknown as Worker).postMessage(!!adapter);
};
