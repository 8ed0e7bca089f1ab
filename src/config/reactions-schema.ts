import { z } from "zod";
import { parseDuration } from "../domain/duration.js";
import {
  PRIORITIES,
  REACTION_ACTIONS,
  REACTION_KEYS,
  type Priority,
  type ReactionKey,
  type ReactionOverrides,
  type ReactionRule,
} from "../domain/reaction-config.js";
import { MERGE_METHODS, REPO_NAME } from "../domain/repo.js";

/**
 * `reactions:`, `notifications:`, `observer:` and per-repo `repos.<name>.reactions` of
 * `shepherd.yaml` (SPEC C4, C5). Reaction fields are snake_case, as SPEC C5 writes them.
 */
const durationText = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'must be a duration like "45s", "15m", "1h" or "2d"')
  .refine((text) => (parseDuration(text) ?? 0) > 0, "must be more than zero");

const reactionRuleSchema = z.strictObject({
  action: z.enum(REACTION_ACTIONS).optional(),
  priority: z.enum(PRIORITIES).optional(),
  retries: z.number().int().min(0).max(100).optional(),
  /** A number of attempts, or a duration since the condition began. */
  escalate_after: z.union([z.number().int().min(1).max(1000), durationText]).optional(),
  max_nudges: z.number().int().min(1).max(100).optional(),
  threshold: durationText.optional(),
  method: z.enum(MERGE_METHODS).optional(),
  include_bots: z.boolean().optional(),
  message: z.string().trim().min(1).max(2000).optional(),
});
type ReactionRuleInput = z.infer<typeof reactionRuleSchema>;

export const reactionsSchema = z.strictObject(
  Object.fromEntries(REACTION_KEYS.map((key) => [key, reactionRuleSchema.optional()])) as Record<
    ReactionKey,
    z.ZodOptional<typeof reactionRuleSchema>
  >,
);

const NOTIFY_TARGET = /^(dashboard|webhook:[a-z0-9][a-z0-9_-]{0,62})$/;
const targetList = z.array(z.string().regex(NOTIFY_TARGET, 'must be "dashboard" or "webhook:<name>"'));

export const notificationsSchema = z.strictObject({
  routes: z
    .strictObject(
      Object.fromEntries(PRIORITIES.map((priority) => [priority, targetList.optional()])) as Record<
        Priority,
        z.ZodOptional<typeof targetList>
      >,
    )
    .optional(),
  webhooks: z
    .record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "webhook names are lower-case letters, digits, - and _"),
      z.strictObject({
        /** Where to POST; a Slack incoming-webhook URL is a secret: prefer `urlRef`. */
        url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
        /** A secret ref (`file:…` or `env:…`) holding the URL. */
        urlRef: z.string().trim().min(1).optional(),
        format: z.enum(["slack", "json"]).optional(),
      }),
    )
    .optional(),
});

export const observerSchema = z.strictObject({
  enabled: z.boolean().optional(),
  intervalSeconds: z.number().int().min(5).max(3600).optional(),
  reconcileIntervalSeconds: z.number().int().min(30).max(86_400).optional(),
  staleAfterSeconds: z.number().int().min(30).max(86_400).optional(),
  reviewIntervalSeconds: z.number().int().min(10).max(3600).optional(),
  requestTimeoutSeconds: z.number().int().min(1).max(120).optional(),
  batchSize: z.number().int().min(1).max(25).optional(),
  webhookHealthySeconds: z.number().int().min(60).max(604_800).optional(),
});

export const repoOverridesSchema = z.record(
  z.string().regex(REPO_NAME, "must be a repo name"),
  z.strictObject({ reactions: reactionsSchema.optional() }),
);

export interface NotificationWebhookConfig {
  url: string | null;
  urlRef: string | null;
  format: "slack" | "json";
}

export interface NotificationsConfig {
  routes: Record<Priority, string[]>;
  webhooks: Record<string, NotificationWebhookConfig>;
}

export interface ObserverConfig {
  enabled: boolean;
  intervalSeconds: number;
  reconcileIntervalSeconds: number;
  staleAfterSeconds: number;
  reviewIntervalSeconds: number;
  requestTimeoutSeconds: number;
  batchSize: number;
  webhookHealthySeconds: number;
}

export interface ReactionsConfig {
  global: ReactionOverrides;
  /** By repo name. */
  perRepo: Record<string, ReactionOverrides>;
}

export const OBSERVER_DEFAULTS: ObserverConfig = {
  enabled: true,
  intervalSeconds: 30,
  reconcileIntervalSeconds: 300,
  staleAfterSeconds: 300,
  reviewIntervalSeconds: 120,
  requestTimeoutSeconds: 15,
  batchSize: 25,
  webhookHealthySeconds: 3600,
};

type Fail = (keyPath: string[], message: string) => void;

/** Reactions that can only tell humans: they are about the PR's end or about the agent itself. */
const NOTIFY_ONLY: readonly ReactionKey[] = ["pr_closed", "pr_merged", "agent_stuck", "agent_needs_input"];

function toOverride(
  key: ReactionKey,
  input: ReactionRuleInput,
  at: string[],
  fail: Fail,
): Partial<ReactionRule> {
  const rule: Partial<ReactionRule> = {};
  if (input.action !== undefined) {
    if (input.action === "auto_merge" && key !== "approved_and_green") {
      fail([...at, "action"], "auto_merge is only for approved_and_green");
    } else if (input.action === "send_to_agent" && NOTIFY_ONLY.includes(key)) {
      fail([...at, "action"], `${key} can only notify (or be none)`);
    }
    rule.action = input.action;
  }
  if (input.priority !== undefined) rule.priority = input.priority;
  if (input.retries !== undefined) rule.retries = input.retries;
  if (input.escalate_after !== undefined) {
    rule.escalateAfter =
      typeof input.escalate_after === "number"
        ? { attempts: input.escalate_after }
        : { ms: parseDuration(input.escalate_after) ?? 0 };
  }
  if (input.max_nudges !== undefined) rule.maxNudges = input.max_nudges;
  if (input.threshold !== undefined) {
    if (key !== "agent_stuck") fail([...at, "threshold"], "only agent_stuck has a threshold");
    rule.thresholdMs = parseDuration(input.threshold);
  }
  if (input.method !== undefined) rule.method = input.method;
  if (input.include_bots !== undefined) rule.includeBots = input.include_bots;
  if (input.message !== undefined) rule.message = input.message;
  return rule;
}

export function resolveReactionOverrides(
  input: z.infer<typeof reactionsSchema> | undefined,
  at: string[],
  fail: Fail,
): ReactionOverrides {
  const overrides: ReactionOverrides = {};
  for (const key of REACTION_KEYS) {
    const rule = input?.[key];
    if (rule) overrides[key] = toOverride(key, rule, [...at, key], fail);
  }
  return overrides;
}

export function resolveNotifications(
  input: z.infer<typeof notificationsSchema> | undefined,
  fail: Fail,
): NotificationsConfig {
  const webhooks: Record<string, NotificationWebhookConfig> = {};
  for (const [name, hook] of Object.entries(input?.webhooks ?? {})) {
    if ((hook.url === undefined) === (hook.urlRef === undefined)) {
      fail(["notifications", "webhooks", name], "give exactly one of url or urlRef");
      continue;
    }
    webhooks[name] = { url: hook.url ?? null, urlRef: hook.urlRef ?? null, format: hook.format ?? "slack" };
  }
  const routes = {} as Record<Priority, string[]>;
  for (const priority of PRIORITIES) {
    const targets = input?.routes?.[priority] ?? ["dashboard"];
    targets.forEach((target, index) => {
      const name = target.startsWith("webhook:") ? target.slice("webhook:".length) : null;
      if (name !== null && !(name in webhooks) && !(name in (input?.webhooks ?? {}))) {
        fail(
          ["notifications", "routes", priority, String(index)],
          `no webhook named "${name}" under notifications.webhooks`,
        );
      }
    });
    routes[priority] = [...new Set(targets)];
  }
  return { routes, webhooks };
}
