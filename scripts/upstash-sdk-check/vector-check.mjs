// Drives the official @upstash/vector SDK against the Vector endpoint in
// UPSTASH_VECTOR_REST_URL (our local server, shared/upstashvector/
// vectorserver), to show that it is a drop-in for Upstash Vector. The
// index has VECTOR_DIMENSION dimensions and embeds data itself. Prints one
// line per check and exits 1 if any fails.
import { Index } from "@upstash/vector";
import assert from "node:assert/strict";
import { runChecks } from "./run-checks.mjs";

const url = process.env.UPSTASH_VECTOR_REST_URL;
const token = process.env.UPSTASH_VECTOR_REST_TOKEN;
const dim = Number(process.env.VECTOR_DIMENSION);
const index = new Index({ url, token, retry: false });
const wrong = new Index({ url, token: "wrong", retry: false });

// unit returns a vector of dim dimensions pointing mostly along axis i.
const unit = (i, tilt = 0) => Array.from({ length: dim }, (_, j) => (j === i ? 1 : j === i + 1 ? tilt : 0));

const checks = {
  "reset leaves an empty index": async () => {
    assert.equal(await index.reset(), "Success");
    const info = await index.info();
    assert.equal(info.vectorCount, 0);
    assert.equal(info.dimension, dim);
    assert.equal(info.similarityFunction, "COSINE");
  },
  "upsert one and many, with metadata and data": async () => {
    assert.equal(await index.upsert({ id: "a", vector: unit(0), metadata: { kind: "db", n: 1 }, data: "connection refused" }), "Success");
    assert.equal(await index.upsert([{ id: "b", vector: unit(0, 0.2) }, { id: 3, vector: unit(5) }]), "Success");
    assert.equal((await index.info()).vectorCount, 3);
  },
  "query ranks by cosine, with what was asked for": async () => {
    const res = await index.query({ vector: unit(0), topK: 2, includeMetadata: true, includeData: true, includeVectors: true });
    assert.deepEqual(res.map((r) => r.id), ["a", "b"]);
    assert.ok(res[0].score > 0.999 && res[0].score <= 1, `score ${res[0].score}`);
    assert.ok(res[1].score < res[0].score);
    assert.deepEqual(res[0].metadata, { kind: "db", n: 1 });
    assert.equal(res[0].data, "connection refused");
    assert.equal(res[0].vector.length, dim);
    const bare = await index.query({ vector: unit(0), topK: 1 });
    assert.equal(bare[0].metadata, undefined);
  },
  "queryMany answers each query": async () => {
    const res = await index.queryMany([{ vector: unit(0), topK: 1 }, { vector: unit(5), topK: 1 }]);
    assert.deepEqual(res.map((r) => r[0].id), ["a", "3"]);
  },
  "upsert and query by data": async () => {
    await index.upsert({ id: "d", data: "ConnectionRefusedError: connection refused to db", metadata: { via: "data" } });
    const res = await index.query({ data: "connection refused to the db", topK: 1, includeMetadata: true });
    assert.equal(res[0].id, "d");
    assert.deepEqual(res[0].metadata, { via: "data" });
  },
  "fetch by ids, missing is null": async () => {
    const res = await index.fetch(["a", "nope"], { includeMetadata: true });
    assert.equal(res[0].id, "a");
    assert.deepEqual(res[0].metadata, { kind: "db", n: 1 });
    assert.equal(res[1], null);
  },
  "range pages through every id": async () => {
    const ids = [];
    let cursor = 0;
    do {
      const page = await index.range({ cursor, limit: 2 });
      ids.push(...page.vectors.map((v) => v.id));
      cursor = page.nextCursor;
    } while (cursor !== "" && cursor !== "0" && cursor !== 0);
    assert.deepEqual(ids.sort(), ["3", "a", "b", "d"]);
  },
  "namespaces are apart": async () => {
    const ns = index.namespace("other");
    await ns.upsert({ id: "a", vector: unit(7) });
    const res = await ns.query({ vector: unit(7), topK: 5 });
    assert.deepEqual(res.map((r) => r.id), ["a"]);
    assert.ok((await index.listNamespaces()).includes("other"));
    assert.equal((await index.info()).namespaces["other"].vectorCount, 1);
    assert.equal(await index.deleteNamespace("other"), "Success");
    assert.ok(!(await index.listNamespaces()).includes("other"));
  },
  "delete by ids": async () => {
    const res = await index.delete(["b", "nope"]);
    assert.equal(res.deleted, 1);
    assert.equal((await index.fetch(["b"]))[0], null);
  },
  "a wrong dimension is refused": async () => {
    await assert.rejects(index.upsert({ id: "x", vector: [1, 2, 3] }), /dimension/);
  },
  "a wrong token is refused": async () => {
    await assert.rejects(wrong.info(), /Unauthorized|401/);
  },
};

await runChecks(checks);
