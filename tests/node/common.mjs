// common.mjs: tiny assertion helpers and the mock's control endpoints for
// the SDK fidelity scripts. MOCK_URL (default http://127.0.0.1:18080) is the
// mock; MOCK_API_KEY the key it was started with (unset: auth checks skipped).
export const URL = (process.env.MOCK_URL || "http://127.0.0.1:18080").replace(/\/$/, "");
export const KEY = process.env.MOCK_API_KEY || "";
let checks = 0, fails = 0;

export function expect(what, cond, detail) {
  checks++;
  if (!cond) {
    fails++;
    console.error(`FAIL: ${what}${detail !== undefined ? " " + JSON.stringify(detail) : ""}`);
  }
  return cond;
}

// Runs fn expecting it to throw an instance of cls; returns the error.
export async function expectThrows(what, cls, fn, check) {
  try {
    await fn();
    expect(`${what}: throws ${cls.name}`, false, "no error");
  } catch (e) {
    const ok = e instanceof cls && (!check || check(e));
    expect(`${what}: throws ${cls.name}`, ok, `${e?.constructor?.name}: ${e?.message} status=${e?.status}`);
    return e;
  }
}

export async function faults(body) {
  const r = await fetch(`${URL}/mock/faults`, { method: "POST", body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`POST /mock/faults ${r.status}: ${await r.text()}`);
  return r.json();
}

export function words(s) {
  return s.split(" ").filter((w) => w.length > 0).length;
}

export function done() {
  console.log(`${checks} checks, ${fails} failed`);
  process.exit(fails ? 1 : 0);
}
