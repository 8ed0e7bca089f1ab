#!/usr/bin/env node
// An example MCP server for the triage skill pack: three read-only tools over canned data about
// two services, spoken over stdio. Plain JavaScript, so it runs with `node` alone:
//
//   node examples/triage/mcp/incident-tools-server.mjs
//
// Shepherd starts it from skill.yaml (`mcp_servers.incidents`) and stops it by closing its stdin.
// Replace SERVICES with calls to your own monitoring to make it real.
import { exit, stdin } from "node:process";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

/**
 * @typedef {import("@modelcontextprotocol/sdk/types.js").CallToolResult} CallToolResult
 * @typedef {{ group: string, count: number, first_seen_minutes_ago: number,
 *   last_seen_minutes_ago: number, trend: string, sample: string }} ErrorGroup
 * @typedef {{ version: string, minutes_ago: number, author: string, change: string }} Deploy
 * @typedef {{ status: Record<string, string | number | null>, errors: ErrorGroup[],
 *   deploys: Deploy[] }} ServiceData
 */

/**
 * What the tools know. Times are minutes before "now", so answers never go stale.
 * @type {Record<string, ServiceData>}
 */
const SERVICES = {
  "checkout-api": {
    status: {
      health: "degraded",
      owner: "payments-oncall",
      error_rate: 0.083,
      error_rate_slo: 0.01,
      p99_latency_ms: 2400,
      p99_latency_slo_ms: 800,
      degraded_since_minutes_ago: 17,
    },
    errors: [
      {
        group: "DatabasePoolTimeout",
        count: 1843,
        first_seen_minutes_ago: 16,
        last_seen_minutes_ago: 0,
        trend: "growing",
        sample: "timed out after 5000 ms waiting for a connection from pool 'orders' (size 10, in use 10)",
      },
      {
        group: "UpstreamTimeout",
        count: 212,
        first_seen_minutes_ago: 15,
        last_seen_minutes_ago: 1,
        trend: "growing",
        sample: "POST /v1/payments/authorize: upstream request timed out after 3000 ms",
      },
      {
        group: "CardDeclined",
        count: 38,
        first_seen_minutes_ago: 300,
        last_seen_minutes_ago: 4,
        trend: "steady",
        sample: "card declined by issuer (insufficient funds)",
      },
    ],
    deploys: [
      {
        version: "2024.11.3",
        minutes_ago: 19,
        author: "release-bot",
        change: "orders: reuse one DB transaction per cart; pool size from config (default 10, was 40)",
      },
      {
        version: "2024.11.2",
        minutes_ago: 2880,
        author: "release-bot",
        change: "retry card authorisation once",
      },
    ],
  },
  "search-api": {
    status: {
      health: "healthy",
      owner: "search-oncall",
      error_rate: 0.002,
      error_rate_slo: 0.01,
      p99_latency_ms: 310,
      p99_latency_slo_ms: 500,
      degraded_since_minutes_ago: null,
    },
    errors: [
      {
        group: "IndexShardUnavailable",
        count: 96,
        first_seen_minutes_ago: 42,
        last_seen_minutes_ago: 35,
        trend: "stopped",
        sample: "shard 3 of index 'products' unavailable during a node restart",
      },
    ],
    deploys: [{ version: "5.8.0", minutes_ago: 4320, author: "search-team", change: "synonyms for sizes" }],
  },
};

const serviceName = z.string().min(1).max(100).describe("The service's name, e.g. checkout-api");

/**
 * A result with the value as JSON text (for any client) and as structured content.
 * @param {Record<string, unknown>} value
 * @returns {CallToolResult}
 */
function answer(value) {
  return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }], structuredContent: value };
}

/**
 * A view of the service's canned data, or an error result that lists the services this server knows.
 * @param {string} service
 * @param {(data: ServiceData) => Record<string, unknown>} view
 * @returns {CallToolResult}
 */
function lookUp(service, view) {
  const known = Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
  if (known === undefined) {
    const text = `unknown service "${service}"; known services: ${Object.keys(SERVICES).join(", ")}`;
    return { content: [{ type: "text", text }], isError: true };
  }
  return answer(view(known));
}

const server = new McpServer({ name: "example-incident-tools", version: "1.0.0" });
const readOnly = { readOnlyHint: true, openWorldHint: false };

server.registerTool(
  "service_status",
  {
    description:
      "Current health of a service: error rate and p99 latency against its SLO, and its owning team.",
    inputSchema: { service: serviceName },
    annotations: readOnly,
  },
  async ({ service }) => lookUp(service, (known) => ({ service, ...known.status })),
);

server.registerTool(
  "recent_errors",
  {
    description: "Error groups of a service seen in the last `minutes`, most frequent first.",
    inputSchema: {
      service: serviceName,
      minutes: z.number().int().min(1).max(1440).describe("How far back to look, in minutes"),
    },
    annotations: readOnly,
  },
  async ({ service, minutes }) =>
    lookUp(service, (known) => ({
      service,
      minutes,
      errors: known.errors
        .filter((error) => error.last_seen_minutes_ago <= minutes)
        .sort((a, b) => b.count - a.count),
    })),
);

server.registerTool(
  "recent_deploys",
  {
    description: "The latest deploys of a service, newest first.",
    inputSchema: { service: serviceName },
    annotations: readOnly,
  },
  async ({ service }) => lookUp(service, (known) => ({ service, deploys: known.deploys })),
);

await server.connect(new StdioServerTransport());
// The client closing our stdin is how MCP over stdio says goodbye.
stdin.once("end", () => exit(0));
