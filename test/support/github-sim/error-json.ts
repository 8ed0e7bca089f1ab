import { DOCS } from "./sim-urls.js";
import type { ValidationItem } from "./pull-operations.js";

/** GitHub's error bodies (`basic-error`, `validation-error`), with the `status` string it adds. */

export function docsUrl(page: string): string {
  return `${DOCS}/${page}`;
}

export function basicError(status: number, message: string, docsPage = "rest"): Record<string, unknown> {
  return { message, documentation_url: docsUrl(docsPage), status: String(status) };
}

export function validationFailed(
  errors: readonly ValidationItem[],
  docsPage: string,
): Record<string, unknown> {
  return { message: "Validation Failed", errors, documentation_url: docsUrl(docsPage), status: "422" };
}

/** A body-parameter type error, worded like GitHub's schema validation. */
export function invalidRequest(
  field: string,
  value: unknown,
  expected: string,
  docsPage: string,
): Record<string, unknown> {
  return {
    message: `Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(value)} is not ${expected}.`,
    documentation_url: docsUrl(docsPage),
    status: "422",
  };
}
