import { z } from "zod";
import { ALL_ROLES, rolesAccess } from "../access.js";
import type { ApiApp } from "../api-context.js";

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function registerOpenApiRoutes(app: ApiApp): void {
  app.get(
    "/api/v1/openapi.json",
    {
      config: { access: rolesAccess(ALL_ROLES) },
      schema: { hide: true, querystring: z.strictObject({}) },
    },
    async () => app.swagger(),
  );
}
