import { describe, expect, it } from "vitest";
import { fillInjectedArgs, stripInjectedArgs } from "./inject-args.js";

const INJECTED = ["sessionId", "repo", "environment"] as const;

function deployTool(): Record<string, unknown> {
  return {
    type: "object",
    properties: {
      sessionId: { type: "string" },
      environment: { type: "string", enum: ["staging", "production"] },
      service: { type: "string" },
      options: {
        type: "object",
        // A nested object's own `sessionId` is not an injected argument.
        properties: { sessionId: { type: "string" }, dryRun: { type: "boolean" } },
        required: ["sessionId"],
      },
    },
    required: ["sessionId", "service", "environment"],
    additionalProperties: false,
  };
}

describe("stripInjectedArgs", () => {
  it("removes the injected properties and their required entries, keeping the rest", () => {
    expect(stripInjectedArgs(deployTool(), INJECTED)).toEqual({
      type: "object",
      properties: {
        service: { type: "string" },
        options: {
          type: "object",
          properties: { sessionId: { type: "string" }, dryRun: { type: "boolean" } },
          required: ["sessionId"],
        },
      },
      required: ["service"],
      additionalProperties: false,
    });
  });

  it("leaves required lists of nested objects alone but strips those of subschemas of the same object", () => {
    const schema = {
      type: "object",
      properties: { sessionId: { type: "string" }, query: { type: "string" }, limit: { type: "number" } },
      allOf: [{ required: ["sessionId", "query"] }],
      anyOf: [{ required: ["repo"], properties: { repo: { type: "string" } } }, { required: ["limit"] }],
      if: { required: ["environment"] },
      then: { required: ["environment", "limit"] },
      dependentRequired: { sessionId: ["query"], query: ["sessionId", "limit"] },
      not: { required: ["sessionId"] },
    };
    expect(stripInjectedArgs(schema, INJECTED)).toEqual({
      type: "object",
      properties: { query: { type: "string" }, limit: { type: "number" } },
      allOf: [{ required: ["query"] }],
      anyOf: [{ properties: {} }, { required: ["limit"] }],
      if: {},
      then: { required: ["limit"] },
      dependentRequired: { query: ["limit"] },
      not: { required: ["sessionId"] },
    });
  });

  it("drops a required list that only held injected names", () => {
    const schema = { type: "object", properties: { sessionId: { type: "string" } }, required: ["sessionId"] };
    expect(stripInjectedArgs(schema, ["sessionId"])).toEqual({ type: "object", properties: {} });
  });

  it("treats a schema with properties and no type, or a type list with object, as an object", () => {
    expect(stripInjectedArgs({ properties: { repo: {}, q: {} }, required: ["repo", "q"] }, ["repo"])).toEqual(
      {
        properties: { q: {} },
        required: ["q"],
      },
    );
    expect(
      stripInjectedArgs({ type: ["object", "null"], properties: { repo: {} }, required: ["repo"] }, ["repo"]),
    ).toEqual({ type: ["object", "null"], properties: {} });
  });

  it("returns non-object schemas unchanged", () => {
    for (const schema of [
      { type: "string" },
      { type: "array", items: { type: "object", properties: { sessionId: {} }, required: ["sessionId"] } },
      { type: "string", properties: { sessionId: {} }, required: ["sessionId"] },
      {},
    ]) {
      const before = structuredClone(schema);
      const result = stripInjectedArgs(schema, INJECTED);
      expect(result).toBe(schema);
      expect(result).toEqual(before);
    }
  });

  it("never mutates its input, even deep inside", () => {
    const schema = deployTool();
    const before = structuredClone(schema);
    const result = stripInjectedArgs(schema, INJECTED);
    expect(schema).toEqual(before);
    // The result shares no object with the input: changing it cannot change the tool's schema.
    (result.properties as Record<string, Record<string, unknown>>).service!.type = "number";
    expect(schema).toEqual(before);
  });
});

describe("fillInjectedArgs", () => {
  const values = { sessionId: "ses_1", repo: "acme/app", environment: "staging" };

  it("fills only the names the tool's schema declares", () => {
    const result = fillInjectedArgs({ service: "api" }, values, deployTool());
    expect(result).toEqual({
      args: { service: "api", sessionId: "ses_1", environment: "staging" },
      overridden: [],
    });
    expect(result.args).not.toHaveProperty("repo");
  });

  it("lets the framework's value win and reports the keys the LLM had set differently", () => {
    const llm = { service: "api", sessionId: "ses_other", environment: "staging" };
    const before = structuredClone(llm);
    const result = fillInjectedArgs(llm, values, deployTool());
    expect(result).toEqual({
      args: { service: "api", sessionId: "ses_1", environment: "staging" },
      overridden: ["sessionId"],
    });
    expect(llm).toEqual(before);
  });

  it("compares structured values by content when deciding what was overridden", () => {
    const schema = { type: "object", properties: { repo: { type: "object" }, q: { type: "string" } } };
    const repo = { owner: "acme", name: "app", topics: ["a", "b"] };
    expect(fillInjectedArgs({ repo: structuredClone(repo) }, { repo }, schema).overridden).toEqual([]);
    expect(fillInjectedArgs({ repo: { ...repo, topics: ["b", "a"] } }, { repo }, schema).overridden).toEqual([
      "repo",
    ]);
    expect(fillInjectedArgs({ repo: { owner: "acme" } }, { repo }, schema).overridden).toEqual(["repo"]);
  });

  it("finds declared names in subschemas of the same object but not in nested objects", () => {
    const schema = {
      type: "object",
      properties: { options: { type: "object", properties: { environment: {} } } },
      anyOf: [{ properties: { repo: {} } }],
    };
    expect(fillInjectedArgs({}, values, schema).args).toEqual({ repo: "acme/app" });
  });

  it("fills nothing for a non-object schema and skips undefined values", () => {
    expect(fillInjectedArgs({ a: 1 }, values, { type: "string" })).toEqual({
      args: { a: 1 },
      overridden: [],
    });
    expect(fillInjectedArgs({ sessionId: "x" }, { sessionId: undefined }, deployTool())).toEqual({
      args: { sessionId: "x" },
      overridden: [],
    });
  });

  it("treats a declared name such as __proto__ as a plain key", () => {
    const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}') as Record<
      string,
      unknown
    >;
    const result = fillInjectedArgs(
      {},
      JSON.parse('{"__proto__":"ses_1"}') as Record<string, unknown>,
      schema,
    );
    expect(Object.getPrototypeOf(result.args)).toBe(Object.prototype);
    expect(Object.hasOwn(result.args, "__proto__")).toBe(true);
    expect(result.args["__proto__"]).toBe("ses_1");
  });
});
