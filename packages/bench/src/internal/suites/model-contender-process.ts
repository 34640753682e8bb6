/**
 * Entry of the process that measures one engine contender (see model-contender.ts). Reads the request as
 * JSON from argv[2]; writes protocol lines prefixed with {@link PROTOCOL_PREFIX} to stdout (TF.js prints
 * its own notices there too): one `{ "sample" }` per timed repetition, then `{ "done", "detail", "losses",
 * "computes"? }`, or
 * `{ "absent" }` / `{ "failed" }` with the reason.
 */
import { ContenderAbsentError } from "../measure.js";
import { measureEngineContender, PROTOCOL_PREFIX, type ContenderRequest } from "./model-contender.js";

function send(message: Record<string, unknown>): void {
  process.stdout.write(`\n${PROTOCOL_PREFIX}${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? "{}") as ContenderRequest;
  try {
    const { detail, losses, computes, parallelism } = await measureEngineContender(request, (sample) => send({ sample }));
    send({ done: true, detail, losses, parallelism, ...(computes ? { computes } : {}) });
  } catch (error) {
    if (error instanceof ContenderAbsentError) send({ absent: error.message });
    else send({ failed: error instanceof Error ? error.message.split("\n")[0] : String(error) });
  }
}

await main();
