import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../config/config-schema.js";
import type { SecretRedactor } from "../domain/redact.js";
import type { Metrics } from "../observability/metrics.js";
import type { EventLog } from "../services/event-log.js";
import type { NotificationService } from "../services/notification-service.js";
import type { ProposalService } from "../services/proposal-service.js";
import type { PullRequestService } from "../services/pull-request-service.js";
import type { RepoService } from "../services/repo-service.js";
import type { SessionService } from "../services/sessions/session-service.js";
import type { SystemStatus } from "../services/system-status.js";
import type { TokenService } from "../services/token-service.js";
import type { WebhookIntake } from "../services/webhook-intake.js";
import type { WebhookRegistration } from "../services/webhook-registration.js";

/** What route modules may use: services, never adapters. */
export interface ApiContext {
  config: Config;
  version: string;
  metrics: Metrics;
  redactor: SecretRedactor;
  tokens: TokenService;
  events: EventLog;
  system: SystemStatus;
  repos: RepoService;
  proposals: ProposalService;
  pullRequests: PullRequestService;
  webhookIntake: WebhookIntake;
  webhookRegistration: WebhookRegistration;
  notifications: NotificationService;
  sessions: SessionService;
}

export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
