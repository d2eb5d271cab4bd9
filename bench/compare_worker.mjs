// One client's side of one bench/compare.sh workload, through Google's @google/genai SDK for
// JavaScript. bench/compare.py starts it as a process of its own (so its CPU time and peak RSS
// are this client's alone) and reads the JSON object it prints on its last line.
//
//   node compare_worker.mjs --workload receive --url URL --key KEY --n 100 \
//        --model gemini-3-pro-image-preview --size 4K --aspect 16:9
//
// Workloads as in compare_worker.py and bench_compare_nbcore.cpp. receive decodes each image's
// pixels with jpeg-js (pure JavaScript: the decoder a Node program gets without native add-ons);
// the others count an image's bytes in hand as a success. Requests at once go through
// Promise.all, and each result is dropped as soon as it is in.
import { GoogleGenAI } from '@google/genai';
import jpeg from 'jpeg-js';
import { readFileSync } from 'node:fs';

function parseArgs(argv) {
  const a = {
    workload: '', url: '', key: '', n: 1, model: 'gemini-2.5-flash-image', size: '', aspect: '',
    prompt: 'a lighthouse on a cliff', attempts: 10, rpm: 0, deadlineS: 0, go: 0,
  };
  const names = {
    '--workload': 'workload', '--url': 'url', '--key': 'key', '--n': 'n', '--model': 'model', '--size': 'size',
    '--aspect': 'aspect', '--prompt': 'prompt', '--attempts': 'attempts', '--rpm': 'rpm',
    '--deadline-s': 'deadlineS', '--go': 'go',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = names[argv[i]];
    if (!k || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!a.workload || !a.url || !a.key) throw new Error('--workload, --url and --key are required');
  return a;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();   // the whole process, every thread
  return (u.user + u.system) / 1e6;
};
const rssMb = () => process.memoryUsage().rss / (1024 * 1024);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function imagePart(resp) {
  for (const cand of resp.candidates ?? []) {
    for (const part of cand.content?.parts ?? []) {
      if (part.inlineData?.data) return part.inlineData;
    }
  }
  return null;
}

function describe(e) {
  let text = `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
  if (e?.cause?.message) text += ` (cause: ${e.cause.code ?? ''} ${e.cause.message})`;
  return text.replace(/\s+/g, ' ').slice(0, 160);
}

async function main() {
  const a = parseArgs(process.argv);
  const version = JSON.parse(readFileSync(new URL('./node_modules/@google/genai/package.json', import.meta.url))).version;
  const ai = new GoogleGenAI({
    apiKey: a.key,
    vertexai: false,
    // The SDK's default for the Developer API is now v1; nbcore and the emulator speak v1beta.
    httpOptions: { baseUrl: a.url, apiVersion: 'v1beta', retryOptions: { attempts: a.attempts } },
  });
  const imageConfig = {};
  if (a.size) imageConfig.imageSize = a.size;
  if (a.aspect) imageConfig.aspectRatio = a.aspect;
  const baseConfig = { responseModalities: ['TEXT', 'IMAGE'] };
  if (Object.keys(imageConfig).length) baseConfig.imageConfig = imageConfig;
  let settings = `httpOptions: {baseUrl, apiVersion: 'v1beta', retryOptions: {attempts: ${a.attempts}}}; other retry fields at the SDK's defaults`;

  const t = { ok: 0, failed: 0, errors: {}, imageBytes: 0, client429s: 0, decodeCpu: 0 };
  const fail = (what) => {
    t.failed += 1;
    t.errors[what] = (t.errors[what] ?? 0) + 1;
  };

  if (a.go > 0) {
    const delay = a.go * 1000 - Date.now();
    if (delay > 0) await sleep(delay);
  }
  const begin = { cpu: cpuSeconds(), mono: performance.now(), epoch: Date.now() / 1000, rss: rssMb() };

  const once = async (signal, decode) => {
    try {
      const config = signal ? { ...baseConfig, abortSignal: signal } : baseConfig;
      const resp = await ai.models.generateContent({ model: a.model, contents: a.prompt, config });
      const blob = imagePart(resp);
      if (!blob) return fail('no image in the answer');
      const bytes = Buffer.from(blob.data, 'base64');
      t.imageBytes += bytes.length;
      if (decode) {
        if (blob.mimeType !== 'image/jpeg') return fail(`no pure-JS decoder here for ${blob.mimeType}`);
        const c0 = cpuSeconds();
        const px = jpeg.decode(bytes, { useTArray: true, maxResolutionInMP: 200, maxMemoryUsageInMB: 2048 });
        t.decodeCpu += cpuSeconds() - c0;
        if (!px.width) return fail('jpeg-js decoded nothing');
      }
      t.ok += 1;
    } catch (e) {
      if (e?.status === 429) t.client429s += 1;
      if (signal?.aborted) return fail(`deadline of ${a.deadlineS} s passed`);
      fail(describe(e));
    }
  };

  if (a.workload === 'receive' || a.workload === 'retryinfo') {
    for (let i = 0; i < a.n; i++) await once(null, a.workload === 'receive');
  } else {
    const signal = a.deadlineS > 0 ? AbortSignal.timeout(Math.round(a.deadlineS * 1000)) : null;
    if (signal) settings += `; each call with config.abortSignal = AbortSignal.timeout(${a.deadlineS} s) (the SDK has no total deadline)`;
    await Promise.all(Array.from({ length: a.n }, () => once(signal, false)));
  }

  const out = {
    client: '@google/genai (JS)', workload: a.workload, ok: t.ok, failed: t.failed, errors: t.errors,
    wall_s: (performance.now() - begin.mono) / 1000, start_epoch: begin.epoch, cpu_before_s: begin.cpu,
    cpu_s: cpuSeconds() - begin.cpu, decode_cpu_s: t.decodeCpu, rss_start_mb: begin.rss,
    image_bytes: t.imageBytes, client_429s: t.client429s, settings, version,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`compare_worker.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
