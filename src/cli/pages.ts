import type { ApiClient } from "./api-client.js";

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

/** Every item of a paginated list, following `nextCursor` (200 per request). */
export async function fetchAllPages<T>(client: ApiClient, path: string): Promise<T[]> {
  const items: T[] = [];
  const separator = path.includes("?") ? "&" : "?";
  let cursor: string | null = null;
  do {
    const suffix: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page: Page<T> = await client.get<Page<T>>(`${path}${separator}limit=200${suffix}`);
    items.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}
