import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import type { ValidationResult } from "./openapi-validator.js";

/**
 * Validates webhook payloads against `@octokit/webhooks-schemas` (the community-maintained JSON
 * Schema of every GitHub webhook event and action), for the simulator's webhook tests. The schema
 * names each payload `<event>$<action>` (`pull_request$opened`), or `<event>$event` for events
 * without actions (`push`, `status`, `ping`).
 */

const SCHEMA_ID = "webhooks";

export class WebhookValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  private constructor(private readonly definitions: Set<string>) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    formats.default(this.ajv);
    this.ajv.addFormat("uri-template", true);
  }

  static async load(): Promise<WebhookValidator> {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/webhooks-schemas/schema.json");
    const schema = JSON.parse(await readFile(file, "utf8")) as { definitions: Record<string, unknown> };
    const validator = new WebhookValidator(new Set(Object.keys(schema.definitions)));
    validator.ajv.addSchema({ $id: SCHEMA_ID, definitions: schema.definitions });
    return validator;
  }

  /** The schema's name for a payload of this event and action. */
  static definitionOf(event: string, action: string | null): string {
    return `${event}$${action ?? "event"}`;
  }

  validate(event: string, action: string | null, payload: unknown): ValidationResult {
    const name = WebhookValidator.definitionOf(event, action);
    if (!this.definitions.has(name)) return { valid: false, errors: [`the schema has no ${name}`] };
    let validate = this.compiled.get(name);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${name}` });
      this.compiled.set(name, validate);
    }
    const valid = validate(payload);
    return {
      valid,
      errors: (validate.errors ?? []).map(
        (error) => `${error.instancePath || "/"} ${error.message ?? ""} ${JSON.stringify(error.params)}`,
      ),
    };
  }
}
