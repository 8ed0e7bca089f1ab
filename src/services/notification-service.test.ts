import { describe, expect, it } from "vitest";
import type { NotificationRecord } from "../store/notification-store.js";
import { escapeSlack, jsonPayload, notificationLink, slackPayload } from "./notification-service.js";

const BASE: NotificationRecord = {
  id: "ntf_01hzzzzzzzzzzzzzzzzzzzzzzz",
  dedupKey: null,
  kind: "reaction.escalated",
  priority: "urgent",
  title: "CI still failing",
  body: "3 attempts",
  repoId: null,
  prId: null,
  sessionId: null,
  createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  acknowledgedAt: null,
  acknowledgedBy: null,
};

describe("escapeSlack", () => {
  it.each([
    ["a & b", "a &amp; b"],
    ["<@U123> <!channel>", "&lt;@U123&gt; &lt;!channel&gt;"],
    ["&lt; already", "&amp;lt; already"],
    ["*bold* _it_ `code`", "*bold* _it_ `code`"],
  ])("%s → %s", (input, output) => {
    expect(escapeSlack(input)).toBe(output);
  });
});

describe("notificationLink", () => {
  it("is null without a public URL", () => {
    expect(notificationLink({ ...BASE, sessionId: "sess-1" }, null)).toBeNull();
  });

  it("points at the session first, then the PR, then the inbox entry", () => {
    const base = "https://shepherd.example.com/";
    expect(notificationLink({ ...BASE, sessionId: "sess-1", prId: "pr_1" }, base)).toBe(
      "https://shepherd.example.com/sessions/sess-1",
    );
    expect(notificationLink({ ...BASE, prId: "pr_1" }, base)).toBe("https://shepherd.example.com/prs/pr_1");
    expect(notificationLink(BASE, base)).toBe(`https://shepherd.example.com/notifications/${BASE.id}`);
  });
});

describe("slackPayload", () => {
  it("puts priority and title first, then the body, then the link", () => {
    expect(slackPayload({ ...BASE, sessionId: "s1" }, "https://x.example")).toEqual({
      text: "*[URGENT]* CI still failing\n3 attempts\n<https://x.example/sessions/s1|Open in Shepherd>",
    });
  });

  it("leaves out an empty body and, without a public URL, the link", () => {
    expect(slackPayload({ ...BASE, body: "  \n" }, null)).toEqual({ text: "*[URGENT]* CI still failing" });
  });

  it("escapes title and body so that user text cannot mention people or forge links", () => {
    const { text } = slackPayload(
      { ...BASE, title: "<!here> ping", body: "<https://evil|click> & go" },
      null,
    );
    expect(text).toBe("*[URGENT]* &lt;!here&gt; ping\n&lt;https://evil|click&gt; &amp; go");
  });

  it("keeps the link's delimiters out of the URL", () => {
    const { text } = slackPayload({ ...BASE, sessionId: "a|b>c" }, "https://x.example");
    expect(text.split("\n").at(-1)).toBe("<https://x.example/sessions/a%7Cb%3Ec|Open in Shepherd>");
  });

  it("cuts a long body", () => {
    const { text } = slackPayload({ ...BASE, body: "x".repeat(10_000) }, null);
    const body = text.split("\n")[1] ?? "";
    expect(body.length).toBe(3000);
    expect(body.endsWith("…")).toBe(true);
  });
});

describe("jsonPayload", () => {
  it("is the notification with an ISO timestamp and its link", () => {
    expect(jsonPayload({ ...BASE, repoId: "repo_1" }, null)).toEqual({
      id: BASE.id,
      kind: "reaction.escalated",
      priority: "urgent",
      title: "CI still failing",
      body: "3 attempts",
      repoId: "repo_1",
      prId: null,
      sessionId: null,
      createdAt: "2026-01-02T03:04:05.000Z",
      url: null,
    });
  });
});
