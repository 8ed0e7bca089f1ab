import { describe, expect, it } from "vitest";
import { webhookTargets, type WebhookTargets } from "./webhook-intake.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const REPOSITORY = { id: 10, full_name: "acme/widgets" };

const cases: {
  name: string;
  event: string;
  payload: Record<string, unknown>;
  want: WebhookTargets | null;
}[] = [
  {
    name: "pull_request opened: its number, and the list",
    event: "pull_request",
    payload: { action: "opened", number: 5, pull_request: { number: 5 } },
    want: { numbers: [5], headSha: null, listDirty: true },
  },
  {
    name: "pull_request closed and reopened change the list too",
    event: "pull_request",
    payload: { action: "reopened", number: 5, pull_request: { number: 5 } },
    want: { numbers: [5], headSha: null, listDirty: true },
  },
  {
    name: "pull_request synchronize: its number only",
    event: "pull_request",
    payload: { action: "synchronize", pull_request: { number: 5 } },
    want: { numbers: [5], headSha: null, listDirty: false },
  },
  {
    name: "pull_request without the object: the top-level number",
    event: "pull_request",
    payload: { action: "edited", number: 6 },
    want: { numbers: [6], headSha: null, listDirty: false },
  },
  {
    name: "a number that is not a positive integer is ignored",
    event: "pull_request_review",
    payload: { pull_request: { number: "5" } },
    want: { numbers: [], headSha: null, listDirty: false },
  },
  {
    name: "review thread",
    event: "pull_request_review_thread",
    payload: { action: "resolved", pull_request: { number: 9 } },
    want: { numbers: [9], headSha: null, listDirty: false },
  },
  {
    name: "issue_comment on a PR",
    event: "issue_comment",
    payload: { issue: { number: 3, pull_request: { url: "u" } } },
    want: { numbers: [3], headSha: null, listDirty: false },
  },
  {
    name: "issue_comment on a plain issue",
    event: "issue_comment",
    payload: { issue: { number: 3 } },
    want: { numbers: [], headSha: null, listDirty: false },
  },
  {
    name: "check_run: listed PRs whose base is this repo (by id), and the head sha",
    event: "check_run",
    payload: {
      repository: REPOSITORY,
      check_run: {
        head_sha: SHA.toUpperCase(),
        pull_requests: [
          { number: 1, base: { repo: { id: 10 } } },
          { number: 2, base: { repo: { id: 11 } } },
        ],
      },
    },
    want: { numbers: [1], headSha: SHA, listDirty: false },
  },
  {
    name: "check_suite: base repo by URL when ids are missing",
    event: "check_suite",
    payload: {
      repository: { full_name: "Acme/Widgets" },
      check_suite: {
        head_sha: SHA,
        pull_requests: [
          { number: 4, base: { repo: { url: "https://api.github.com/repos/acme/widgets" } } },
          { number: 5, base: { repo: { url: "https://api.github.com/repos/acme/widgets-fork" } } },
        ],
      },
    },
    want: { numbers: [4], headSha: SHA, listDirty: false },
  },
  {
    name: "status: the sha",
    event: "status",
    payload: { sha: SHA },
    want: { numbers: [], headSha: SHA, listDirty: false },
  },
  {
    name: "status with a malformed sha names nothing",
    event: "status",
    payload: { sha: "not a sha'; --" },
    want: { numbers: [], headSha: null, listDirty: false },
  },
  { name: "push is not handled", event: "push", payload: { after: SHA }, want: null },
  { name: "ping is not a PR event", event: "ping", payload: { zen: "z" }, want: null },
];

describe("webhookTargets", () => {
  it.each(cases)("$name", ({ event, payload, want }) => {
    expect(webhookTargets(event, payload)).toEqual(want);
  });
});
