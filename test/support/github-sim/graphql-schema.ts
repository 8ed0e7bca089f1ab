import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { buildSchema, type GraphQLSchema } from "graphql";

/**
 * GitHub's real public GraphQL schema (`@octokit/graphql-schema`), built once per process on first
 * use (about 0.1 s): queries are validated against exactly what GitHub accepts.
 *
 * Built with `assumeValid`/`assumeValidSDL` because the published SDL breaks two graphql-js 17
 * schema rules that GitHub's own server (graphql-ruby) does not have: one field declared twice
 * (`EnterpriseOwnerInfo.repositoryDeployKeySetting`) and deprecated implementations of
 * non-deprecated interface fields (`PullRequest.databaseId`). Neither changes what a query may ask.
 */

let cached: GraphQLSchema | null = null;

/** The package's `exports` only name its JS entry, so the SDL file is found through the lookup paths. */
function schemaFile(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths("@octokit/graphql-schema") ?? []) {
    const file = path.join(dir, "@octokit", "graphql-schema", "schema.graphql");
    if (existsSync(file)) return file;
  }
  throw new Error("@octokit/graphql-schema/schema.graphql not found");
}

export function githubSchema(): GraphQLSchema {
  if (cached) return cached;
  const sdl = readFileSync(schemaFile(), "utf8");
  cached = buildSchema(sdl, { assumeValid: true, assumeValidSDL: true });
  return cached;
}
