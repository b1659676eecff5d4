// Drives the unmodified @paymentsds/mpesa SDK as its README shows, with only
// the host pointed at pesa-sandbox, and prints one JSON line per call.
//
// Standard input is one JSON document:
//   {
//     "module": "esm" | "cjs",       // the README's two ways to load the SDK
//     "client": { ... },             // the Client's configuration, host included
//     "steps": [ { "op": "receive" | "send" | "revert" | "query", "data": { ... } } ]
//   }
// A string value "$N.field" in a step's data is replaced by that field of step
// N's result (a later reversal needs an earlier payment's transaction id).
//
// Each output line is {"step", "op", "outcome", "value"}: outcome "resolved"
// or "rejected" is what the SDK's promise did (value: what it gave), "thrown"
// is an exception thrown before any request (value: its name and message).

import { createRequire } from "node:module";

const input = JSON.parse(await readStdin());

let Client;
if (input.module === "cjs") {
  // CommonJS, as the README's second example: resolves to the package's dist/.
  Client = createRequire(import.meta.url)("@paymentsds/mpesa").Client;
} else {
  // ES modules, as the README's first example: resolves to the package's src/.
  ({ Client } = await import("@paymentsds/mpesa"));
}

const client = new Client(input.client);
const results = [];

for (const [index, step] of input.steps.entries()) {
  const data = resolve(step.data, results);
  let line;
  try {
    const value = await client[step.op](data);
    line = { step: index, op: step.op, outcome: "resolved", value };
  } catch (error) {
    if (error instanceof Error) {
      line = { step: index, op: step.op, outcome: "thrown", value: { name: error.name, message: error.message } };
    } else {
      line = { step: index, op: step.op, outcome: "rejected", value: error };
    }
  }
  results.push(line.value ?? {});
  process.stdout.write(JSON.stringify(line) + "\n");
}

function resolve(data, earlier) {
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    const reference = typeof value === "string" && /^\$(\d+)\.(\w+)$/.exec(value);
    out[key] = reference ? earlier[Number(reference[1])]?.[reference[2]] : value;
  }
  return out;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
