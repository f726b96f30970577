// Drives the official @upstash/redis SDK against the REST endpoint in
// UPSTASH_REDIS_REST_URL, to show that our server is a drop-in for Upstash.
// Prints one line per check and exits 1 if any fails.
import { Redis } from "@upstash/redis";
import assert from "node:assert/strict";
import { runChecks } from "./run-checks.mjs";

const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL,
  token: process.env.UPSTASH_REDIS_REST_TOKEN,
  retry: false,
});
const wrong = new Redis({ url: process.env.UPSTASH_REDIS_REST_URL, token: "wrong", retry: false });

const checks = {
  "set and get a string": async () => {
    assert.equal(await redis.set("s", "héllo wörld"), "OK");
    assert.equal(await redis.get("s"), "héllo wörld");
  },
  "objects are serialized as JSON": async () => {
    await redis.set("obj", { a: 1, b: [true, null] });
    assert.deepEqual(await redis.get("obj"), { a: 1, b: [true, null] });
  },
  "expiry options": async () => {
    await redis.set("ttl", "v", { ex: 100 });
    const ttl = await redis.ttl("ttl");
    assert.ok(ttl > 95 && ttl <= 100, `ttl ${ttl}`);
  },
  "keys expire on the wall clock, and PTTL counts down": async () => {
    // A store whose clock stands still (plain miniredis) fails this; set
    // SDK_CHECK_CLOCK=off to skip it there.
    if (process.env.SDK_CHECK_CLOCK === "off") return;
    await redis.set("soon", "v", { px: 200 });
    await redis.set("later", "v", { ex: 60 });
    const first = await redis.pttl("later");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await redis.get("soon"), null, "SET PX 200 is gone after 300 ms");
    const then = await redis.pttl("later");
    assert.ok(then <= first - 250, `pttl ${first} then ${then}`);
  },
  "missing key is null": async () => {
    assert.equal(await redis.get("missing"), null);
  },
  "counters": async () => {
    assert.equal(await redis.incr("n"), 1);
    assert.equal(await redis.incrby("n", 41), 42);
  },
  "hashes": async () => {
    await redis.hset("h", { f1: "v1", f2: 2 });
    assert.deepEqual(await redis.hgetall("h"), { f1: "v1", f2: 2 });
  },
  "sorted sets": async () => {
    await redis.zadd("z", { score: 2, member: "b" }, { score: 1, member: "a" });
    assert.deepEqual(await redis.zrange("z", 0, -1), ["a", "b"]);
    assert.deepEqual(await redis.zrange("z", 0, -1, { withScores: true }), ["a", 1, "b", 2]);
  },
  "streams": async () => {
    const id = await redis.xadd("st", "*", { type: "created" });
    assert.match(id, /^\d+-\d+$/);
    const entries = await redis.xrange("st", "-", "+");
    assert.deepEqual(Object.values(entries)[0], { type: "created" });
  },
  "pipeline keeps order": async () => {
    const p = redis.pipeline();
    p.set("p1", "a");
    p.get("p1");
    p.incr("p2");
    assert.deepEqual(await p.exec(), ["OK", "a", 1]);
  },
  "multi-exec": async () => {
    const tx = redis.multi();
    tx.set("t1", "x");
    tx.incr("t2");
    tx.get("t1");
    assert.deepEqual(await tx.exec(), ["OK", 1, "x"]);
  },
  "scripts: eval, scriptLoad, evalsha": async () => {
    const src = "return {KEYS[1], ARGV[1]}";
    assert.deepEqual(await redis.eval(src, ["k"], ["v"]), ["k", "v"]);
    const sha = await redis.scriptLoad(src);
    assert.deepEqual(await redis.evalsha(sha, ["k2"], ["v2"]), ["k2", "v2"]);
  },
  "createScript falls back after SCRIPT FLUSH": async () => {
    const s = redis.createScript("return ARGV[1]");
    assert.equal(await s.exec([], ["one"]), "one");
    await redis.scriptFlush();
    assert.equal(await s.exec([], ["two"]), "two");
  },
  "a Redis error is thrown": async () => {
    await redis.set("str", "x");
    await assert.rejects(redis.lpush("str", "y"), /WRONGTYPE/);
  },
  "a wrong token is refused": async () => {
    await assert.rejects(wrong.get("s"), /WRONGPASS|Unauthorized|401/);
  },
  "auto-pipelining": async () => {
    const auto = new Redis({ url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN, enableAutoPipelining: true });
    const [a, b] = await Promise.all([auto.set("ap", "1"), auto.get("s")]);
    assert.equal(a, "OK");
    assert.equal(b, "héllo wörld");
  },
  "pub/sub over server-sent events": async () => {
    const sub = redis.subscribe(["news"]);
    try {
      const got = new Promise((resolve, reject) => {
        sub.on("message", (m) => resolve(m));
        sub.on("error", reject);
        setTimeout(() => reject(new Error("no message within 5s")), 5000);
      });
      // Publish until the subscription is up: the first publishes may find
      // no subscriber yet.
      let n = 0;
      while (n === 0) {
        n = await redis.publish("news", "hello");
        if (n === 0) await new Promise((r) => setTimeout(r, 20));
      }
      const m = await got;
      assert.equal(m.channel, "news");
      assert.equal(m.message, "hello");
    } finally {
      await sub.unsubscribe();
    }
  },
};

await runChecks(checks);
