/**
 * GitHub's page-number pagination: `per_page` (default 30, at most 100) and `page` (from 1), with
 * a `Link` header carrying `prev`, `next`, `first` and `last` as needed.
 */
export interface Page<T> {
  items: T[];
  /** The `Link` header value, or null when everything fits on one page. */
  link: string | null;
}

function positiveInt(value: string | null, fallback: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 1 ? parsed : fallback;
}

export function paginate<T>(items: readonly T[], query: URLSearchParams, selfUrl: string): Page<T> {
  const perPage = Math.min(100, positiveInt(query.get("per_page"), 30));
  const page = positiveInt(query.get("page"), 1);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const pageUrl = (target: number): string => {
    const params = new URLSearchParams(query);
    params.set("per_page", String(perPage));
    params.set("page", String(target));
    return `<${selfUrl}?${params.toString()}>`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`${pageUrl(Math.min(page - 1, lastPage))}; rel="prev"`);
  if (page < lastPage) links.push(`${pageUrl(page + 1)}; rel="next"`);
  if (page < lastPage) links.push(`${pageUrl(lastPage)}; rel="last"`);
  if (page > 1) links.push(`${pageUrl(1)}; rel="first"`);
  return { items: slice, link: links.length > 0 ? links.join(", ") : null };
}
