// Runs one TensorFlow.js graph model for model-contract (harness/backends/tfjs.py).
//
// Usage: node run_model.js MODEL_JSON BACKEND
//   BACKEND: "wasm" (the WebAssembly backend) or "cpu" (the plain JavaScript one); "auto"
//   tries wasm first and falls back to cpu, saying so.
// Protocol: one JSON object per line on stdin, one answer per line on stdout.
//   {"op": "describe"}                     -> {"ok": true, "backend", "inputs", "outputs", "signature"}
//   {"op": "run", "inputs": {NAME: T}, "outputs": [NAME...]} -> {"ok": true, "outputs": {NAME: T}}
//   {"op": "echo", "inputs": {NAME: T}, "values": BOOL} -> {"ok": true, "outputs": {NAME: T}}:
//     the inputs made into tensors and sent back (without "data" unless "values"), the model
//     not run (tests: every dtype round trips; benchmarks/bench_tfjs.py: the transport's share)
//   T = {"dtype", "shape", "data"}: data is base64 of the little-endian values, or for
//   strings a list of base64 strings.
//   A failure answers {"ok": false, "error": MESSAGE}; the process keeps serving.
// Nothing is fetched: model.json and its weight shards are read from the disk only.
'use strict';
// stdout carries the answers only: whatever the libraries log goes to stderr.
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
console.info = console.log;
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

const ARRAYS = {
  float32: Float32Array, int32: Int32Array, bool: Uint8Array,
};

function fileHandler(modelJson) {
  const dir = path.dirname(modelJson);
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const file = path.resolve(dir, p);
            if (path.dirname(file) !== path.resolve(dir)) {
              throw new Error(`weight shard ${p} is outside the model folder`);
            }
            const bytes = fs.readFileSync(file);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
          }
          specs.push(...group.weights);
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

async function chooseBackend(wanted) {
  const notes = [];
  if (wanted === 'wasm' || wanted === 'auto') {
    try {
      require('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return [tf.getBackend(), notes];
      }
      notes.push('the wasm backend did not initialise');
    } catch (err) {
      notes.push(`the wasm backend failed: ${err.message}`);
    }
    if (wanted === 'wasm') throw new Error(notes.join('; '));
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return [tf.getBackend(), notes];
}

function describeTensors(list) {
  return (list || []).map((t) => ({name: t.name, dtype: t.dtype, shape: t.shape || null}));
}

function decode(spec) {
  if (spec.dtype === 'string') {
    return tf.tensor(spec.data.map((s) => Buffer.from(s, 'base64')), spec.shape, 'string');
  }
  const Kind = ARRAYS[spec.dtype];
  if (!Kind) throw new Error(`TF.js has no dtype ${spec.dtype}`);
  const bytes = Buffer.from(spec.data, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const values = new Kind(copy.buffer, 0, bytes.length / Kind.BYTES_PER_ELEMENT);
  return tf.tensor(spec.dtype === 'bool' ? Array.from(values, (v) => v !== 0) : values,
                   spec.shape, spec.dtype);
}

async function encode(tensor) {
  let out;
  if (tensor.dtype === 'string') {
    // bytes(), not data(): data() decodes each string as UTF-8, which replaces every byte
    // that is not UTF-8 by U+FFFD
    out = Array.from(await tensor.bytes(), (v) => Buffer.from(v).toString('base64'));
    return {dtype: tensor.dtype, shape: tensor.shape, data: out};
  }
  const data = await tensor.data();
  if (tensor.dtype === 'bool') {
    out = Buffer.from(Uint8Array.from(data)).toString('base64');
  } else {
    out = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  }
  return {dtype: tensor.dtype, shape: tensor.shape, data: out};
}

async function main() {
  const [modelJson, wanted] = process.argv.slice(2);
  const [backend, notes] = await chooseBackend(wanted || 'auto');
  let model = null;
  let loadError = null;
  try {
    model = await converter.loadGraphModel(fileHandler(path.resolve(modelJson)));
  } catch (err) {
    loadError = err.message || String(err);
  }
  const answer = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  const lines = readline.createInterface({input: process.stdin, terminal: false});
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch (err) {
      answer({ok: false, error: `not a JSON request: ${err.message}`});
      continue;
    }
    if (loadError !== null) {
      answer({ok: false, error: `tf.loadGraphModel failed: ${loadError}`, load: true});
      continue;
    }
    try {
      if (request.op === 'describe') {
        answer({ok: true, backend, notes, inputs: describeTensors(model.inputs),
                outputs: describeTensors(model.outputs),
                signature: model.artifacts && model.artifacts.signature || null});
      } else if (request.op === 'run') {
        const feeds = {};
        for (const [name, spec] of Object.entries(request.inputs)) feeds[name] = decode(spec);
        let result;
        try {
          result = await model.executeAsync(feeds, request.outputs);
        } finally {
          Object.values(feeds).forEach((t) => t.dispose());
        }
        const tensors = Array.isArray(result) ? result : [result];
        const outputs = {};
        for (let i = 0; i < request.outputs.length; i++) {
          outputs[request.outputs[i]] = await encode(tensors[i]);
        }
        tensors.forEach((t) => t.dispose());
        answer({ok: true, outputs});
      } else if (request.op === 'echo') {
        const outputs = {};
        for (const [name, spec] of Object.entries(request.inputs)) {
          const tensor = decode(spec);
          outputs[name] = request.values ? await encode(tensor)
                                         : {dtype: tensor.dtype, shape: tensor.shape};
          tensor.dispose();
        }
        answer({ok: true, outputs});
      } else {
        answer({ok: false, error: `unknown op ${request.op}`});
      }
    } catch (err) {
      answer({ok: false, error: (err && err.message) || String(err)});
    }
  }
}

main().catch((err) => {
  process.stderr.write(`run_model.js: ${(err && err.stack) || err}\n`);
  process.exit(1);
});
