import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLlmClient } from "../../src/agents/llm/create-llm-client.js";
import { LlmAborted, LlmBadResponse } from "../../src/agents/llm/llm-errors.js";
import type { LlmClient, LlmMessage, LlmRequest, LlmToolSpec } from "../../src/agents/llm/llm-port.js";
import { loadStubScript, parseStubScript } from "../../src/agents/llm/stub-client.js";
import { LlmConfigError, parseLlmConfig } from "../../src/config/llm-schema.js";

const SCRIPT = `# The config tuner, offline.
steps:
  - tool_calls: [{ name: read_file, args: { path: config/search.json } }]
  - tool_calls:
      - name: submit_proposal
        args: { title: Raise title boost, set: { titleBoost: { from: 1.2, to: 2.0 } } }
      - name: read_file
        args: { path: README.md }
    expect_user: "CI is failing"
  - text: |
      {"content": "Proposed raising title boost to 2.0", "confidence": 0.82, "rationale": "Offline eval improved.", "signal": "success"}
`;

const TOOLS: LlmToolSpec[] = [
  { name: "read_file", description: "Read a file", inputSchema: { type: "object" } },
  { name: "submit_proposal", description: "Propose a change", inputSchema: { type: "object" } },
];

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "shepherd-llm-stub-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A config file's directory holding `stub/config-tuner.yaml`, configured with a relative path. */
async function makeClient(script = SCRIPT): Promise<LlmClient> {
  await mkdir(path.join(root, "stub"));
  await writeFile(path.join(root, "stub", "config-tuner.yaml"), script);
  const config = parseLlmConfig(
    {
      default: "offline",
      providers: { script: { kind: "stub", script: "./stub/config-tuner.yaml" } },
      models: { offline: { provider: "script", model: "replay" } },
    },
    root,
  );
  return createLlmClient(config, "offline", {
    readSecret: () => Promise.reject(new Error("a stub reads no secret")),
  });
}

function request(messages: LlmMessage[]): LlmRequest {
  return { system: "You tune search configs.", messages, tools: TOOLS };
}

const GOAL: LlmMessage = { role: "user", content: "Tune the search config" };

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error("rejected with a non-Error", { cause: error });
  }
  throw new Error("expected the call to fail");
}

describe("stub: replay", () => {
  it("plays the steps in order, one per assistant message already in the conversation", async () => {
    const client = await makeClient();
    expect(client.provider).toBe("script");
    expect(client.model).toBe("replay");

    const first = await client.complete(request([GOAL]));
    expect(first).toMatchObject({
      text: "",
      toolCalls: [{ id: "stub-1-1", name: "read_file", args: { path: "config/search.json" } }],
      finishReason: "tool-calls",
      provider: "script",
      model: "replay",
    });

    const afterFirst: LlmMessage[] = [
      GOAL,
      { role: "assistant", content: first.text, toolCalls: first.toolCalls },
      {
        role: "tool",
        toolCallId: "stub-1-1",
        toolName: "read_file",
        result: { titleBoost: 1.2 },
        isError: false,
      },
      { role: "user", content: "Heads-up: CI is failing on main" },
    ];
    const second = await client.complete(request(afterFirst));
    expect(second.finishReason).toBe("tool-calls");
    expect(second.toolCalls).toEqual([
      {
        id: "stub-2-1",
        name: "submit_proposal",
        args: { title: "Raise title boost", set: { titleBoost: { from: 1.2, to: 2.0 } } },
      },
      { id: "stub-2-2", name: "read_file", args: { path: "README.md" } },
    ]);

    const third = await client.complete(
      request([...afterFirst, { role: "assistant", content: "", toolCalls: second.toolCalls }]),
    );
    expect(third.toolCalls).toEqual([]);
    expect(third.finishReason).toBe("stop");
    expect(JSON.parse(third.text)).toMatchObject({ confidence: 0.82, signal: "success" });
  });

  it("is stateless: the same messages replay the same step, however often", async () => {
    const client = await makeClient();
    const once = await client.complete(request([GOAL]));
    const later = await client.complete(
      request([
        GOAL,
        { role: "assistant", content: "", toolCalls: once.toolCalls },
        { role: "user", content: "CI is failing" },
      ]),
    );
    expect(later.toolCalls[0]?.name).toBe("submit_proposal");
    // A session resumed after a crash sends the first conversation again.
    const again = await client.complete(request([GOAL]));
    expect(again).toEqual(once);
  });

  it("returns copies: changing a returned call does not change the script", async () => {
    const client = await makeClient();
    const first = await client.complete(request([GOAL]));
    (first.toolCalls[0]?.args as Record<string, unknown>).path = "/etc/passwd";
    const again = await client.complete(request([GOAL]));
    expect(again.toolCalls[0]?.args).toEqual({ path: "config/search.json" });
  });

  it("counts words for usage, deterministically", async () => {
    const client = await makeClient();
    const response = await client.complete(request([GOAL]));
    // "You tune search configs." (4) + "Tune the search config" (4); one call with its args JSON (1 word).
    expect(response.usage).toEqual({ inputTokens: 8, outputTokens: 1 });
  });

  it("expect_user: a newest user message without the text → LlmBadResponse naming the step", async () => {
    const client = await makeClient();
    const first = await client.complete(request([GOAL]));
    const error = await failure(
      client.complete(
        request([
          { role: "user", content: "CI is failing" },
          { role: "assistant", content: "", toolCalls: first.toolCalls },
          { role: "tool", toolCallId: "stub-1-1", toolName: "read_file", result: "{}", isError: false },
          { role: "user", content: "All green now" },
        ]),
      ),
    );
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain("step 2");
    expect(error.message).toContain('"CI is failing"');
  });

  it("past the last step → LlmBadResponse", async () => {
    const client = await makeClient();
    const assistant: LlmMessage = { role: "assistant", content: "", toolCalls: [] };
    const error = await failure(
      client.complete(
        request([GOAL, assistant, { role: "user", content: "CI is failing" }, assistant, assistant]),
      ),
    );
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain("the stub script has no step 4");
  });

  it("a step calling a tool that is not offered → LlmBadResponse", async () => {
    const client = await makeClient();
    const error = await failure(
      client.complete({ system: "", messages: [GOAL], tools: [TOOLS[1] as LlmToolSpec] }),
    );
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain('"read_file"');
  });

  it("an aborted signal → LlmAborted", async () => {
    const client = await makeClient();
    const error = await failure(client.complete({ ...request([GOAL]), signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(LlmAborted);
  });
});

describe("stub: script validation", () => {
  function scriptError(text: string): string {
    try {
      parseStubScript(text, "tuner.yaml");
    } catch (error) {
      if (error instanceof LlmConfigError) return error.message;
      throw error;
    }
    throw new Error("expected the script to be rejected");
  }

  it.each([
    ["no steps key", "steps_: []\n", /tuner\.yaml:1: "steps" is missing/],
    ["an unknown top-level key", "steps: [{ text: a }]\nstep: []\n", /tuner\.yaml:2: unknown key "step"/],
    ["a file that is not a mapping", "- text: a\n", /tuner\.yaml:1: /],
    ["an empty list", "steps: []\n", /tuner\.yaml:1: the script needs at least one step/],
    [
      "a step with neither text nor tool calls",
      "steps:\n  - text: hi\n  - expect_user: x\n",
      /tuner\.yaml:3: step 2: a step needs text and\/or tool_calls/,
    ],
    [
      "an empty tool_calls list",
      "steps:\n  - tool_calls: []\n",
      /step 1: a step needs text and\/or tool_calls/,
    ],
    [
      "a bad tool name",
      "steps:\n  - text: a\n  - tool_calls: [{ name: 'rm -rf' }]\n",
      /tuner\.yaml:3: step 2: tool_calls\.0\.name: a tool name is/,
    ],
    [
      "args that are not a mapping",
      "steps:\n  - tool_calls:\n      - name: read_file\n        args: [1, 2]\n",
      /tuner\.yaml:4: step 1: tool_calls\.0\.args:/,
    ],
    [
      "an unknown step key",
      "steps:\n  - text: a\n    tool_call: []\n",
      /tuner\.yaml:3: step 1: unknown key "tool_call"/,
    ],
    ["text that is not a string", "steps:\n  - text: 12\n", /tuner\.yaml:2: step 1: text:/],
    ["YAML syntax", "steps:\n  - text: [unclosed\n", /tuner\.yaml:\d+:\d+: /],
    ["a duplicate key", "steps:\n  - text: a\n    text: b\n", /tuner\.yaml:3:\d+: /],
  ])("rejects %s", (_name, text, pattern) => {
    expect(scriptError(text)).toMatch(pattern);
  });

  it("accepts text with tool calls and defaults args to {}", () => {
    const script = parseStubScript(
      "steps:\n  - text: Reading.\n    tool_calls: [{ name: read_file }]\n",
      "s.yaml",
    );
    expect(script.steps).toEqual([
      { text: "Reading.", toolCalls: [{ name: "read_file", args: {} }], expectUser: null },
    ]);
  });

  it("a missing script file is a clear error", async () => {
    const file = path.join(root, "nope.yaml");
    await expect(loadStubScript(file)).rejects.toThrow(`${file}: file not found`);
  });

  it("createLlmClient rejects a bad script when the client is made", async () => {
    await expect(makeClient("steps:\n  - nothing: here\n")).rejects.toThrow(
      /config-tuner\.yaml:2: step 1: unknown key "nothing"/,
    );
  });
});
