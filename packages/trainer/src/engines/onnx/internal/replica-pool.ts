/**
 * Worker threads that each run ONNX Runtime sessions for data-parallel replicas (the training engine's
 * gradients graphs, inference sessions): one replica per thread, taking micro-batches of a step or batch
 * from a counter the threads share.
 *
 * Why threads: onnxruntime-node's `session.run` is synchronous on the calling thread, so two sessions only
 * run at once from two threads. Why replicas at all: on a 2-core machine about a fifth of a training step
 * is copies (Slice, Concat, Pad, reorders) that ORT runs on one thread while the other idles; two
 * single-threaded replicas keep both cores busy through them (measured in the bench's train suite).
 *
 * The worker's code is a self-contained function started with `eval`, so it needs no separate file next to
 * the compiled module (and runs the same from sources under the test runner); it loads onnxruntime-node
 * from the path the engine resolved.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Threads of a CPU engine or session created without `intraOpNumThreads`: as replicas of one thread each
 * with the CPU provider alone, else one session's intra-op threads.
 */
const DEFAULT_CPU_THREADS = 2;

/** More replicas than this would be more threads than any machine this is meant for has cores. */
const MAX_REPLICAS = 64;

/**
 * The replicas and intra-op threads per replica that the options of a training engine or an inference
 * session ask for: by default {@link DEFAULT_CPU_THREADS} replicas of 1 thread when the providers are CPU
 * only and no thread count is given, else one session of the given (or default) threads. A bad count
 * throws the error `invalid` makes of the message.
 */
export function replicaLayout(
  options: { readonly executionProviders?: readonly string[]; readonly replicas?: number; readonly intraOpNumThreads?: number },
  invalid: (message: string) => Error,
): { replicas: number; threads: number } {
  const cpuOnly = (options.executionProviders ?? ["cpu"]).every((provider) => provider === "cpu");
  const replicas = options.replicas ?? (cpuOnly && options.intraOpNumThreads === undefined ? DEFAULT_CPU_THREADS : 1);
  if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) throw invalid(`replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${String(replicas)}`);
  const threads = options.intraOpNumThreads ?? (replicas > 1 ? 1 : DEFAULT_CPU_THREADS);
  if (!Number.isSafeInteger(threads) || threads < 1) throw invalid(`intraOpNumThreads must be a positive integer, got ${String(threads)}`);
  return { replicas, threads };
}

/**
 * Micro-batches per replica in a data-parallel step or batch: more than one lets a replica that runs ahead
 * take over a slowed one's work; on the reference model, batch-8 training steps cost the same per sample
 * as batch-16 ones (1 thread: 153 against 306 ms), and batch-8 inference runs the same as batch-16.
 */
export const MICRO_BATCHES_PER_REPLICA = 2;

/** A run of samples of a batch. */
export interface MicroBatch {
  readonly start: number;
  readonly count: number;
}

/**
 * `count` samples cut into at most `replicas` · {@link MICRO_BATCHES_PER_REPLICA} near-equal runs (the
 * first `count mod parts` one sample longer), in order.
 */
export function microBatches(count: number, replicas: number): MicroBatch[] {
  const parts = Math.min(count, replicas * MICRO_BATCHES_PER_REPLICA);
  const base = Math.floor(count / parts);
  const batches: MicroBatch[] = [];
  for (let k = 0, start = 0; k < parts; k++) {
    const size = base + (k < count % parts ? 1 : 0);
    batches.push({ start, count: size });
    start += size;
  }
  return batches;
}

/**
 * `view` on a buffer of its own: posting a view to a thread clones its whole buffer, and a batch's views
 * may be windows on a much larger dataset.
 */
export function ownBuffer(view: Float32Array): Float32Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : view.slice();
}

/** A tensor crossing the thread boundary: float32 data and its dims. */
export interface PlainTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** ORT session options a replica applies (plain data, cloned to the thread). */
export interface ReplicaSessionOptions {
  readonly executionProviders: readonly string[];
  readonly intraOpNumThreads: number;
  readonly interOpNumThreads: number;
  readonly executionMode: "sequential";
  readonly graphOptimizationLevel: string;
  readonly logSeverityLevel: number;
  /** ORT's own key for session config entries (intra-op spinning). */
  readonly extra?: Record<string, unknown>;
}

/** One micro-batch of a shared step: the session that runs it and its own feeds. */
export interface WorkItem {
  readonly key: string;
  readonly feeds: Record<string, PlainTensor>;
}

/**
 * Micro-batches that several threads share: each thread takes the next unclaimed index from `counter`
 * (an `Int32Array` over a SharedArrayBuffer, `Atomics.add`) until none is left, so a thread the OS slows
 * down takes fewer of them and nobody waits for it at the end.
 */
export interface SharedWork {
  readonly counter: Int32Array;
  /** Feeds every item shares (the weights), sent once. */
  readonly common: Record<string, PlainTensor>;
  readonly items: readonly WorkItem[];
  readonly outputs: readonly string[];
}

type Request =
  | { readonly id: number; readonly kind: "session"; readonly key: string; readonly bytes: Uint8Array; readonly options: ReplicaSessionOptions }
  | { readonly id: number; readonly kind: "work"; readonly work: SharedWork }
  | { readonly id: number; readonly kind: "release" };

/** A request without its id (distributed over the union's members). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

/** The outputs of the items one thread ran, by item index. */
export type WorkResults = Map<number, Record<string, PlainTensor>>;

type Reply = { readonly id: number; readonly ok: true; readonly results?: WorkResults } | { readonly id: number; readonly ok: false; readonly error: string };

/** The body of a replica thread (serialised with `toString`: it may use nothing from this module's scope). */
function replicaMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require("node:worker_threads") as typeof import("node:worker_threads");
  const ort = require(workerData.onnxruntime as string) as typeof import("onnxruntime-node");
  const sessions = new Map<string, import("onnxruntime-node").InferenceSession>();
  parentPort!.on("message", (request: Request) => {
    void (async () => {
      try {
        if (request.kind === "session") {
          if (!sessions.has(request.key)) {
            sessions.set(request.key, await ort.InferenceSession.create(request.bytes, request.options as import("onnxruntime-node").InferenceSession.SessionOptions));
          }
          parentPort!.postMessage({ id: request.id, ok: true });
        } else if (request.kind === "work") {
          const { counter, common, items, outputs } = request.work;
          const results = new Map<number, Record<string, PlainTensor>>();
          const transfer: ArrayBuffer[] = [];
          for (let k = Atomics.add(counter, 0, 1); k < items.length; k = Atomics.add(counter, 0, 1)) {
            const item = items[k]!;
            const session = sessions.get(item.key);
            if (session === undefined) throw new Error(`no session ${item.key} in this replica`);
            const feeds: Record<string, import("onnxruntime-node").Tensor> = {};
            for (const [name, t] of [...Object.entries(common), ...Object.entries(item.feeds)]) feeds[name] = new ort.Tensor("float32", t.data, t.dims as number[]);
            const result = await session.run(feeds, outputs as string[]);
            const out: Record<string, PlainTensor> = {};
            for (const name of outputs) {
              const data = result[name]!.data as Float32Array;
              out[name] = { data, dims: result[name]!.dims };
              transfer.push(data.buffer as ArrayBuffer);
            }
            results.set(k, out);
          }
          parentPort!.postMessage({ id: request.id, ok: true, results }, transfer);
        } else {
          for (const session of sessions.values()) await session.release();
          sessions.clear();
          parentPort!.postMessage({ id: request.id, ok: true });
        }
      } catch (error) {
        parentPort!.postMessage({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
}

/**
 * Runs `work` on this thread and on `threads` at once: each (this one through `runHere`) takes the next
 * unclaimed item of the shared counter until none is left. Resolves with every item's outputs by index.
 * Every thread has settled before it returns or throws; a failed thread, or an item nobody ran, rejects
 * with the error `failure` makes of its message.
 */
export async function shareWork(
  work: SharedWork,
  threads: readonly ReplicaThread[],
  runHere: (index: number) => Promise<Record<string, PlainTensor>>,
  failure: (message: string) => Error,
): Promise<WorkResults> {
  const remote = Promise.allSettled(threads.map((thread) => thread.work(work)));
  const results: WorkResults = new Map();
  try {
    for (let k = Atomics.add(work.counter, 0, 1); k < work.items.length; k = Atomics.add(work.counter, 0, 1)) results.set(k, await runHere(k));
  } catch (error) {
    // Leave no item for the other threads to start, and let them settle before reporting.
    Atomics.store(work.counter, 0, work.items.length);
    await remote;
    throw error;
  }
  (await remote).forEach((outcome, j) => {
    if (outcome.status === "rejected") throw failure(`replica ${j + 1} failed: ${outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)}`);
    for (const [k, result] of outcome.value) results.set(k, result);
  });
  for (let k = 0; k < work.items.length; k++) if (!results.has(k)) throw failure(`micro-batch ${k} of ${work.items.length} was not computed by any replica`);
  return results;
}

/** One worker thread holding ORT sessions by key. */
export class ReplicaThread {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private failure: Error | undefined;

  constructor() {
    const onnxruntime = createRequire(import.meta.url).resolve("onnxruntime-node");
    this.worker = new Worker(`(${replicaMain.toString()})()`, { eval: true, workerData: { onnxruntime } });
    // Idle replicas must not keep the process alive; a request holds a reference while it is pending.
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      waiter?.resolve(reply);
    });
    const fail = (error: Error): void => {
      this.failure = error;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`replica thread exited (code ${code})`)));
  }

  private request(body: RequestBody): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...body, id });
    }).then((reply) => {
      if (!reply.ok) throw new Error(reply.error);
      return reply;
    });
  }

  /** Creates the session `key` from `bytes` unless this thread has it. */
  async ensureSession(key: string, bytes: Uint8Array, options: ReplicaSessionOptions): Promise<void> {
    await this.request({ kind: "session", key, bytes, options });
  }

  /**
   * Runs items of `work` until its counter passes the last one (see {@link SharedWork}); resolves with the
   * outputs of the items this thread ran. The feeds are copied to the thread, the outputs come back moved.
   */
  async work(work: SharedWork): Promise<WorkResults> {
    const reply = await this.request({ kind: "work", work });
    return (reply as { results: WorkResults }).results;
  }

  /** Releases the thread's sessions and ends it. */
  async close(): Promise<void> {
    if (!this.failure) await this.request({ kind: "release" }).catch(() => undefined);
    this.failure ??= new Error("replica thread closed");
    await this.worker.terminate();
  }
}
