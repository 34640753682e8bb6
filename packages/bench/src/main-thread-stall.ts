/** How long the JS main thread is kept from running timers while some work is in flight. */

const PROBE_INTERVAL_MS = 1;

/**
 * Runs `task` while a 1 ms interval timer checks in, and returns the largest delay (ms) between two
 * check-ins beyond the interval itself: the longest time the main thread could not respond.
 */
export async function maxMainThreadStall(task: () => Promise<unknown> | unknown): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - PROBE_INTERVAL_MS);
    last = now;
  }, PROBE_INTERVAL_MS);
  try {
    await task();
  } finally {
    clearInterval(timer);
  }
  // A task that blocks synchronously never lets the timer fire: its whole duration is the stall.
  worst = Math.max(worst, performance.now() - last - PROBE_INTERVAL_MS);
  return Math.max(0, worst);
}
