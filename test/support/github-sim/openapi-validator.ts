import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import formats from "ajv-formats";

/**
 * Validates response bodies against GitHub's own OpenAPI description of GHES 3.19
 * (`@octokit/openapi`), for the simulator's conformance tests.
 *
 * The description is OpenAPI 3.0, so before Ajv sees it: `nullable: true` becomes a JSON-Schema
 * `null` alternative (Ajv's own `nullable` needs a sibling `type`, which GitHub's file often
 * lacks), and a `oneOf` with a discriminator mapping becomes "if the property is X, then the
 * mapped schema" (the mapped schemas overlap, so a plain `oneOf` would reject valid bodies).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SPEC_ID = "ghes";

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rewrites one OpenAPI schema node (recursively) into plain JSON Schema for Ajv. */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string" && value.startsWith("#/"))
      out[key] = `${SPEC_ID}${value}`;
    else if (key === "example" || key === "examples") out[key] = value;
    else out[key] = toJsonSchema(value);
  }
  const discriminator = out.discriminator;
  if (
    isObject(discriminator) &&
    isObject(discriminator.mapping) &&
    typeof discriminator.propertyName === "string"
  ) {
    const property = discriminator.propertyName;
    const mapping = Object.entries(discriminator.mapping).filter(
      (entry): entry is [string, string] => typeof entry[1] === "string",
    );
    delete out.oneOf;
    delete out.discriminator;
    out.allOf = [
      { required: [property], properties: { [property]: { enum: mapping.map(([value]) => value) } } },
      ...mapping.map(([value, ref]) => ({
        if: { properties: { [property]: { const: value } } },
        then: { $ref: `${SPEC_ID}${ref}` },
      })),
    ];
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === "string" && !Array.isArray(out.enum)) {
      out.type = [out.type, "null"];
      return out;
    }
    return { anyOf: [out, { type: "null" }] };
  }
  delete out.nullable;
  return out;
}

export interface ValidationResult {
  valid: boolean;
  errors: string[];
}

export class OpenApiValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction | null>();

  private constructor(private readonly spec: JsonObject) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    formats.default(this.ajv);
    for (const name of [
      "int32",
      "int64",
      "uri-template",
      "ssh-key",
      "ssh-key fingerprint",
      "ip/cidr",
      "timestamp",
    ]) {
      this.ajv.addFormat(name, true);
    }
    this.ajv.addSchema({ $id: SPEC_ID, components: toJsonSchema(spec.components ?? {}) });
  }

  static async load(): Promise<OpenApiValidator> {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/ghes-3.19.json");
    return new OpenApiValidator(JSON.parse(await readFile(file, "utf8")) as JsonObject);
  }

  /** True when the description documents this status for the operation (with or without a body). */
  documents(method: string, path: string, status: number): boolean {
    return this.responseOf(method, path, status) !== undefined;
  }

  private responseOf(method: string, path: string, status: number): JsonObject | undefined {
    const paths = this.spec.paths;
    const item = isObject(paths) ? paths[path] : undefined;
    const operation = isObject(item) ? item[method.toLowerCase()] : undefined;
    const responses = isObject(operation) ? operation.responses : undefined;
    let response = isObject(responses) ? responses[String(status)] : undefined;
    if (isObject(response) && typeof response.$ref === "string") {
      const name = response.$ref.split("/").pop() ?? "";
      const shared = isObject(this.spec.components) ? this.spec.components.responses : undefined;
      response = isObject(shared) ? shared[name] : undefined;
    }
    return isObject(response) ? response : undefined;
  }

  /**
   * Validates `body` as the response of `METHOD path` (the path template as the description
   * writes it, e.g. `/repos/{owner}/{repo}/pulls`) with this status.
   */
  validate(method: string, path: string, status: number, body: unknown): ValidationResult {
    const key = `${method.toUpperCase()} ${path} ${status}`;
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      const response = this.responseOf(method, path, status);
      if (!response) return { valid: false, errors: [`the description has no ${key} response`] };
      const content = response.content;
      const media = isObject(content) ? content["application/json"] : undefined;
      const schema = isObject(media) ? media.schema : undefined;
      validate = schema === undefined ? null : this.ajv.compile(toJsonSchema(schema) as object);
      this.compiled.set(key, validate);
    }
    if (validate === null) {
      return body === undefined || body === null || body === ""
        ? { valid: true, errors: [] }
        : { valid: false, errors: [`${key} has no body in the description`] };
    }
    const valid = validate(body);
    return {
      valid,
      errors: (validate.errors ?? []).map(
        (error) => `${error.instancePath || "/"} ${error.message ?? ""} ${JSON.stringify(error.params)}`,
      ),
    };
  }
}
