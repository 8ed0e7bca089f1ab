import { z } from "zod";
import { PARAMS_FORMATS } from "./proposal.js";

/**
 * The shape of a proposal's change and evidence (SPEC C3), shared by the API and the agents'
 * `submit_proposal` tool so that both accept exactly the same input.
 */
export function plainText(max: number) {
  return (
    z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(max)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
  );
}

const MAX_FILE_BYTES = 512 * 1024;

const repoPath = z.string().min(1).max(4096);
const dottedKey = z.string().min(1).max(500);
const jsonValue = z.json();

export const paramsChangeSchema = z.strictObject({
  path: repoPath.describe("The structured config file, relative to the repository root"),
  format: z.enum(PARAMS_FORMATS).optional().describe("Default: by extension (.json, .yaml, .yml)"),
  set: z
    .record(dottedKey, z.strictObject({ from: jsonValue.optional(), to: jsonValue }))
    .refine((set) => Object.keys(set).length > 0, "set at least one key")
    .refine((set) => Object.keys(set).length <= 200, "at most 200 keys"),
});

export const filesChangeSchema = z.strictObject({
  files: z
    .array(
      z.union([
        z.strictObject({ path: repoPath, content: z.string().max(MAX_FILE_BYTES) }),
        z.strictObject({ path: repoPath, delete: z.literal(true) }),
      ]),
    )
    .min(1)
    .max(100),
});

export const evidenceSchema = z.strictObject({
  summary: z.string().trim().min(1).max(10_000).optional(),
  metrics: z
    .array(z.strictObject({ name: plainText(100), baseline: z.number(), achieved: z.number() }))
    .max(50)
    .optional(),
  importance: z
    .record(z.string().min(1).max(200), z.number().min(0))
    .refine((value) => Object.keys(value).length <= 100, "at most 100 parameters")
    .optional(),
  followups: z.array(z.string().trim().min(1).max(1000)).max(50).optional(),
  links: z
    .array(
      z.strictObject({
        title: plainText(200),
        url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
      }),
    )
    .max(50)
    .optional(),
});
