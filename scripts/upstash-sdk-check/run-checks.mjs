// Runs named async checks in order, prints one line each, and exits 1 if
// any failed: the runner of check.mjs and vector-check.mjs.
export async function runChecks(checks) {
  let failed = 0;
  for (const [name, fn] of Object.entries(checks)) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}: ${err && err.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
