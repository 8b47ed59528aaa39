// ONNX Runtime (onnxruntime-node, MLAS CPU kernels) for bench/compare: one JSON request per
// line on stdin, one JSON reply per line on stdout, so sessions stay loaded between the
// interleaved rounds.
//   {"cmd": "time", "model": F, "threads": T, "batch": B, "size": [H, W], "channels": C,
//    "runs": R, "warmup": W}              -> {"times_ms": [...]}
//   {"cmd": "infer", "model": F, "input": X.bin, "shape": [N, C, H, W], "output": Y.bin}
//                                          -> {"ok": true}   (raw float32, little-endian)
// Sessions use ORT's defaults for CPU inference (all graph optimisations, sequential
// execution, intra-op threads = T with its spinning thread pool).
import { createRequire } from "module";
import { readFileSync, writeFileSync } from "fs";
import { createInterface } from "readline";

const require = createRequire(import.meta.url);
const ort = require("onnxruntime-node");
const sessions = new Map();

async function session(model, threads) {
  const key = `${model}|${threads}`;
  if (!sessions.has(key)) {
    sessions.set(key, await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    }));
  }
  return sessions.get(key);
}

function randomInput(count) {
  const data = new Float32Array(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state / 2147483648 - 1;
  }
  return data;
}

async function time(req) {
  const s = await session(req.model, req.threads);
  const [h, w] = req.size;
  const shape = [req.batch, req.channels, h, w];
  const x = new ort.Tensor("float32", randomInput(shape.reduce((a, b) => a * b)), shape);
  const feeds = { [s.inputNames[0]]: x };
  for (let i = 0; i < req.warmup; i++) await s.run(feeds);
  const times = [];
  for (let i = 0; i < req.runs; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { times_ms: times };
}

async function infer(req) {
  const s = await session(req.model, 1);
  const bytes = readFileSync(req.input);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", data, req.shape) });
  const y = out[s.outputNames[0]].data;
  writeFileSync(req.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  return { ok: true };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let reply;
  try {
    const req = JSON.parse(line);
    reply = req.cmd === "time" ? await time(req) : await infer(req);
  } catch (e) {
    reply = { error: String(e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
