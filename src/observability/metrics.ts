import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The process's Prometheus metrics, on a registry of its own (several apps can share a process in tests). */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  jobsFinished: Counter<"queue" | "outcome">;
  jobsEnqueued: Counter<"queue" | "deduplicated">;
  queueDepth: Gauge<"queue" | "state">;
  eventsAppended: Counter;
  streamClients: Gauge<"transport">;
  githubRequests: Counter<"token" | "method" | "status">;
  githubPoints: Counter<"token" | "resource">;
  githubRateRemaining: Gauge<"token" | "resource">;
  githubRateLimit: Gauge<"token" | "resource">;
  notificationsCreated: Counter<"priority">;
  notificationWebhookDeliveries: Counter<"webhook" | "outcome">;
  observerPassDuration: Histogram<"kind">;
  observerFetched: Counter<"kind">;
  nudges: Counter<"reaction" | "outcome">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "shepherd_" });
  return {
    registry,
    httpDuration: new Histogram({
      name: "shepherd_http_request_duration_seconds",
      help: "HTTP request duration by route pattern",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: "shepherd_jobs_finished_total",
      help: "Job attempts finished, by outcome (completed, retrying, failed, released)",
      labelNames: ["queue", "outcome"],
      registers: [registry],
    }),
    jobsEnqueued: new Counter({
      name: "shepherd_jobs_enqueued_total",
      help: "Jobs enqueued; deduplicated=true when an in-flight job was returned instead",
      labelNames: ["queue", "deduplicated"],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "shepherd_queue_jobs",
      help: "Jobs per queue and state (queued, active, failed), read at scrape time",
      labelNames: ["queue", "state"],
      registers: [registry],
    }),
    eventsAppended: new Counter({
      name: "shepherd_events_appended_total",
      help: "Events appended to the event log by this process",
      registers: [registry],
    }),
    streamClients: new Gauge({
      name: "shepherd_event_stream_clients",
      help: "Connected event stream clients",
      labelNames: ["transport"],
      registers: [registry],
    }),
    githubRequests: new Counter({
      name: "shepherd_github_requests_total",
      help: "GitHub API requests by token fingerprint, method and status (304 = served from the ETag cache)",
      labelNames: ["token", "method", "status"],
      registers: [registry],
    }),
    githubPoints: new Counter({
      name: "shepherd_github_points_total",
      help: "GitHub secondary-limit points spent (GET 1, writes 5, GraphQL its cost)",
      labelNames: ["token", "resource"],
      registers: [registry],
    }),
    githubRateRemaining: new Gauge({
      name: "shepherd_github_rate_limit_remaining",
      help: "Primary budget left per token and resource, as GitHub last reported it",
      labelNames: ["token", "resource"],
      registers: [registry],
    }),
    githubRateLimit: new Gauge({
      name: "shepherd_github_rate_limit_limit",
      help: "Primary budget per hour per token and resource, as GitHub last reported it",
      labelNames: ["token", "resource"],
      registers: [registry],
    }),
    notificationsCreated: new Counter({
      name: "shepherd_notifications_created_total",
      help: "Notifications created (a repeated dedup key creates none), by priority",
      labelNames: ["priority"],
      registers: [registry],
    }),
    notificationWebhookDeliveries: new Counter({
      name: "shepherd_notification_webhook_deliveries_total",
      help: "Webhook delivery attempts by webhook name and outcome (delivered, retrying, failed)",
      labelNames: ["webhook", "outcome"],
      registers: [registry],
    }),
    observerPassDuration: new Histogram({
      name: "shepherd_observer_tick_duration_seconds",
      help: "Duration of observer passes: periodic ticks (poll) and webhook-triggered refreshes (dirty)",
      labelNames: ["kind"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    observerFetched: new Counter({
      name: "shepherd_observer_prs_fetched_total",
      help: "Pull requests read with GraphQL by the observer, by pass kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    nudges: new Counter({
      name: "shepherd_nudges_total",
      help: "Nudges to agents by reaction and outcome (delivered, duplicate, refused_<reason>)",
      labelNames: ["reaction", "outcome"],
      registers: [registry],
    }),
  };
}
