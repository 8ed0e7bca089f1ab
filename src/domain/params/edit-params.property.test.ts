/**
 * Property-style test over realistic config files: for every scalar leaf, several new values are
 * set one at a time, and each result must (1) parse to the old document with exactly that value
 * changed, key order included, and (2) differ from the original only on the lines the old value
 * occupied. Leaves behind an alias, an aliased anchor, an anchor or a tag must be refused.
 */
import { isAlias, isMap, isScalar, isSeq, parse, parseDocument, visit } from "yaml";
import { describe, expect, it } from "vitest";
import { formatDottedKey } from "./dotted-key.js";
import { applyParamEdits, type ParamFormat } from "./edit-params.js";
import { scanJson, type JsonNode } from "./json-source.js";
import type { JsonValue } from "./json-value.js";
import { changedLines } from "./line-diff.js";

interface CorpusFile {
  name: string;
  format: ParamFormat;
  text: string;
}

const lines = (...parts: string[]): string => parts.join("\n");

const CORPUS: CorpusFile[] = [
  {
    name: "search-relevance params (JSON, 2 spaces)",
    format: "json",
    text: lines(
      "{",
      '  "version": 3,',
      '  "search": {',
      '    "boost": {',
      '      "title": 2.5,',
      '      "description": 1,',
      '      "tags": 0.75',
      "    },",
      '    "fields": ["title^3", "description", "tags"],',
      '    "tieBreaker": 0.3,',
      '    "minimumShouldMatch": "75%",',
      '    "fuzziness": "AUTO",',
      '    "synonyms": true',
      "  },",
      '  "rerank": {',
      '    "enabled": false,',
      '    "model": null,',
      '    "windowSize": 100',
      "  },",
      '  "filters": [',
      '    { "field": "lang", "value": "en" },',
      '    { "field": "status", "value": "published" }',
      "  ]",
      "}",
      "",
    ),
  },
  {
    name: "package.json-like",
    format: "json",
    text: lines(
      "{",
      '  "name": "@acme/search-ui",',
      '  "version": "1.4.2",',
      '  "private": true,',
      '  "type": "module",',
      '  "scripts": {',
      '    "build": "vite build",',
      '    "test": "vitest run --coverage"',
      "  },",
      '  "dependencies": {',
      '    "react": "^18.3.1",',
      '    "zod": "3.23.8"',
      "  },",
      '  "engines": { "node": ">=20" },',
      '  "files": ["dist", "README.md"]',
      "}",
      "",
    ),
  },
  {
    name: "model config (JSON, 4 spaces)",
    format: "json",
    text: lines(
      "{",
      '    "model": {',
      '        "name": "ranker-v2",',
      '        "layers": [',
      "            256,",
      "            128,",
      "            64",
      "        ],",
      '        "dropout": 0.1,',
      '        "activation": "relu"',
      "    },",
      '    "training": {',
      '        "epochs": 20,',
      '        "learningRate": 0.0003,',
      '        "earlyStopping": true',
      "    }",
      "}",
      "",
    ),
  },
  {
    name: "composer-like (JSON, tabs)",
    format: "json",
    text: lines(
      "{",
      '\t"name": "acme/catalog",',
      '\t"require": {',
      '\t\t"php": ">=8.2",',
      '\t\t"monolog/monolog": "^3.0"',
      "\t},",
      '\t"config": {',
      '\t\t"sort-packages": true,',
      '\t\t"process-timeout": 600',
      "\t}",
      "}",
      "",
    ),
  },
  {
    name: "minified JSON on one line, no newline",
    format: "json",
    text: '{"k":10,"weights":{"bm25":0.6,"vector":0.4},"ids":[1,2,3],"label":"prod","debug":false,"extra":null}',
  },
  {
    name: "appsettings (JSON, CRLF)",
    format: "json",
    text: [
      "{",
      '  "Logging": {',
      '    "LogLevel": {',
      '      "Default": "Information",',
      '      "Microsoft.AspNetCore": "Warning"',
      "    }",
      "  },",
      '  "AllowedHosts": "*",',
      '  "Search": { "PageSize": 20, "Timeout": 2.5 }',
      "}",
      "",
    ].join("\r\n"),
  },
  {
    name: "ensure_ascii JSON without a final newline",
    format: "json",
    text: lines(
      "{",
      '  "title": "Caf\\u00e9 cr\\u00e8me",',
      '  "city": "M\\u00fcnchen",',
      '  "stars": 4,',
      '  "tags": ["\\u00fcber", "caf\\u00e9"]',
      "}",
    ),
  },
  {
    name: "feature flags (JSON, prettier style)",
    format: "json",
    text: lines(
      "{",
      '  "flags": {',
      '    "newRanking": { "enabled": true, "rollout": 25, "segments": ["beta", "staff"] },',
      '    "spellcheck": { "enabled": false, "rollout": 0, "segments": [] }',
      "  },",
      '  "owner": "search-team"',
      "}",
      "",
    ),
  },
  {
    name: "index settings (JSON, nested arrays of objects)",
    format: "json",
    text: lines(
      "{",
      '  "settings": {',
      '    "number_of_shards": 3,',
      '    "analysis": {',
      '      "analyzer": {',
      '        "folding": {',
      '          "tokenizer": "standard",',
      '          "filter": ["lowercase", "asciifolding"]',
      "        }",
      "      }",
      "    }",
      "  },",
      '  "mappings": {',
      '    "properties": {',
      '      "title": { "type": "text", "analyzer": "folding" },',
      '      "price": { "type": "scaled_float", "scaling_factor": 100 }',
      "    }",
      "  }",
      "}",
      "",
    ),
  },
  {
    name: "Helm values with comments",
    format: "yaml",
    text: lines(
      "# Default values for search-api.",
      "replicaCount: 2 # at least 2 for HA",
      "",
      "image:",
      "  repository: ghcr.io/acme/search-api",
      "  # Overrides the image tag whose default is the chart appVersion.",
      '  tag: "1.8.0"',
      "  pullPolicy: IfNotPresent",
      "",
      "service:",
      "  type: ClusterIP",
      "  port: 8080",
      "",
      "ingress:",
      "  enabled: false",
      "  className: nginx",
      "  annotations:",
      "    nginx.ingress.kubernetes.io/proxy-body-size: 8m",
      "  hosts:",
      "    - host: search.example.com",
      "      paths:",
      "        - path: /",
      "          pathType: Prefix",
      "",
      "resources:",
      "  limits:",
      "    cpu: 500m",
      "    memory: 512Mi",
      "",
      "search:",
      "  boost:",
      "    title: 2.5   # tuned 2024-05",
      "    body: 1",
      "  minimumShouldMatch: '75%'",
      "",
    ),
  },
  {
    name: "GitHub Actions workflow",
    format: "yaml",
    text: lines(
      "name: CI",
      "",
      "on:",
      "  push:",
      "    branches: [main]",
      "  pull_request:",
      "",
      "concurrency:",
      "  group: ci-${{ github.ref }}",
      "  cancel-in-progress: true",
      "",
      "jobs:",
      "  test:",
      "    runs-on: ubuntu-latest",
      "    timeout-minutes: 15",
      "    steps:",
      "      - uses: actions/checkout@v4",
      "      - uses: actions/setup-node@v4",
      "        with:",
      "          node-version: 22",
      "          cache: npm",
      "      - name: Test",
      "        run: |",
      "          npm ci",
      "          npm test",
      "        env:",
      "          CI: true",
      "",
    ),
  },
  {
    name: "Kubernetes Deployment",
    format: "yaml",
    text: lines(
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      "  name: search-api",
      "  labels:",
      "    app.kubernetes.io/name: search-api",
      "spec:",
      "  replicas: 3",
      "  selector:",
      "    matchLabels:",
      "      app: search-api",
      "  template:",
      "    metadata:",
      "      labels:",
      "        app: search-api",
      "    spec:",
      "      containers:",
      "        - name: api",
      "          image: ghcr.io/acme/search-api:1.8.0",
      "          args: [--port, '8080']",
      "          ports:",
      "            - containerPort: 8080",
      "          env:",
      "            - name: SEARCH_BOOST_TITLE",
      '              value: "2.5"',
      "          readinessProbe:",
      "            httpGet:",
      "              path: /healthz",
      "              port: 8080",
      "            periodSeconds: 10",
      "",
    ),
  },
  {
    name: "docker-compose",
    format: "yaml",
    text: lines(
      'version: "3.9"',
      "services:",
      "  opensearch:",
      "    image: opensearchproject/opensearch:2.13.0",
      "    environment:",
      "      - discovery.type=single-node",
      "      - OPENSEARCH_JAVA_OPTS=-Xms512m -Xmx512m",
      "    ports:",
      '      - "9200:9200"',
      "    ulimits:",
      "      memlock: { soft: -1, hard: -1 }",
      "  api:",
      "    build: .",
      "    depends_on: [opensearch]",
      "    restart: unless-stopped",
      "",
    ),
  },
  {
    name: "search tuning YAML with anchors and block scalars",
    format: "yaml",
    text: lines(
      "defaults: &defaults",
      "  timeout: 2s",
      "  retries: 3",
      "products:",
      "  settings: *defaults",
      "  query: |",
      "    {",
      '      "match": { "title": "{{q}}" }',
      "    }",
      "  boost: &title_boost 2.0",
      "articles:",
      "  boost: *title_boost",
      "  description: >-",
      "    Articles are ranked by freshness",
      "  tag: !!str 2024",
      "",
    ),
  },
  {
    name: "Windows-authored YAML (CRLF)",
    format: "yaml",
    text: [
      "# settings",
      "server:",
      "  host: 0.0.0.0",
      "  port: 8080 # http",
      "search:",
      "  pageSize: 20",
      "  highlight: true",
      "  analyzers:",
      "    - standard",
      "    - english",
      "",
    ].join("\r\n"),
  },
  {
    name: "YAML 1.1 with markers",
    format: "yaml",
    text: lines(
      "%YAML 1.1",
      "---",
      "# legacy service config",
      "enabled: yes",
      "verbose: off",
      "mode: 0644",
      "owner: root",
      "...",
      "",
    ),
  },
  {
    name: "OpenAPI-ish with flow collections",
    format: "yaml",
    text: lines(
      "openapi: 3.0.3",
      "info: { title: Search API, version: '1.2' }",
      "paths:",
      "  /search:",
      "    get:",
      "      parameters:",
      "        - { name: q, in: query, required: true }",
      "        - { name: size, in: query, schema: { type: integer, default: 10 } }",
      "      tags: [search, public]",
      "",
    ),
  },
  {
    name: "Ansible-ish, 4 spaces, indentless sequences",
    format: "yaml",
    text: lines(
      "vars:",
      "    es_heap: 2g",
      "    es_version: 8.13.4",
      "tasks:",
      "-   name: install",
      "    apt:",
      "        name: elasticsearch",
      "        state: present",
      "-   name: restart",
      "    service:",
      "        name: elasticsearch",
      "        state: restarted",
      "",
    ),
  },
  {
    name: "Prometheus alerting rules",
    format: "yaml",
    text: lines(
      "groups:",
      "  - name: search",
      "    rules:",
      "      - alert: SearchLatencyHigh",
      "        expr: |",
      "          histogram_quantile(0.99, rate(search_latency_bucket[5m])) > 0.5",
      '        for: "10m"',
      "        labels:",
      "          severity: page",
      "        annotations:",
      "          summary: 'p99 latency above 500ms'",
      "",
    ),
  },
  {
    name: "numbers, folded text, no final newline",
    format: "yaml",
    text: lines(
      "limits:",
      "  maxResults: 1e3",
      "  mask: 0xFF",
      "  ratio: .5",
      "  negative: -12",
      "summary: >",
      "  A folded paragraph",
      "  over two lines.",
      "empty:",
      "tilde: ~",
      "last: end",
    ),
  },
];

// ---------------------------------------------------------------------------------------------
// Leaves, found independently of the editor: JSON through the scanner's spans, YAML through the
// `yaml` AST.

interface Leaf {
  path: string[];
  value: unknown;
  /** [start, end) of the value's source text. */
  start: number;
  end: number;
  /** Why the editor must refuse this leaf, if it must. */
  refusal?: RegExp;
}

function jsonLeaves(text: string): Leaf[] {
  const scanned = scanJson(text);
  if (!scanned.ok) throw new Error(scanned.message);
  const leaves: Leaf[] = [];
  const walk = (node: JsonNode, path: string[]): void => {
    if (node.kind === "object") node.members.forEach((member) => walk(member.value, [...path, member.key]));
    else if (node.kind === "array") node.items.forEach((item, i) => walk(item, [...path, String(i)]));
    else
      leaves.push({
        path,
        value: JSON.parse(text.slice(node.start, node.end)),
        start: node.start,
        end: node.end,
      });
  };
  walk(scanned.root, []);
  return leaves;
}

function yamlLeaves(text: string): Leaf[] {
  const doc = parseDocument(text);
  const aliased = new Set<string>();
  visit(doc, {
    Alias(_, alias) {
      aliased.add(alias.source);
    },
  });
  const leaves: Leaf[] = [];
  const walk = (node: unknown, path: string[], blocked: RegExp | undefined): void => {
    if (isAlias(node)) {
      const [start, end] = node.range ?? [0, 0];
      leaves.push({ path, value: undefined, start, end, refusal: blocked ?? /is an alias/ });
    } else if (isScalar(node)) {
      const [start, end] = node.range ?? [0, 0];
      const own = node.anchor ? /has an anchor/ : node.tag ? /explicit tag/ : undefined;
      leaves.push({ path, value: node.toJS(doc) as unknown, start, end, refusal: blocked ?? own });
    } else if (isMap(node) || isSeq(node)) {
      const inside =
        blocked ?? (node.anchor && aliased.has(node.anchor) ? /that aliases elsewhere repeat/ : undefined);
      node.items.forEach((item, i) => {
        if (isMap(node) && "key" in (item as object)) {
          const pair = item as { key: unknown; value: unknown };
          const key =
            isScalar(pair.key) && typeof pair.key.value === "string" ? pair.key.value : String(pair.key);
          walk(pair.value, [...path, key], inside);
        } else {
          walk(item, [...path, String(i)], inside);
        }
      });
    }
  };
  walk(doc.contents, [], undefined);
  return leaves;
}

// ---------------------------------------------------------------------------------------------

function parseAny(text: string, format: ParamFormat): unknown {
  return format === "json" ? JSON.parse(text.replace(/^\uFEFF/, "")) : parse(text);
}

function setAt(root: unknown, path: readonly string[], to: JsonValue): void {
  let container = root as Record<string, unknown>;
  path.slice(0, -1).forEach((segment) => {
    container = container[segment] as Record<string, unknown>;
  });
  container[path[path.length - 1] as string] = to;
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

function isBlock(text: string, start: number): boolean {
  return text[start] === "|" || text[start] === ">";
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** New values that exercise different renderings of the same leaf. */
function variants(value: unknown): { name: string; to: JsonValue; oneLine: boolean }[] {
  const nudged: JsonValue =
    typeof value === "string"
      ? `${value}x`
      : typeof value === "number"
        ? value + 1
        : typeof value === "boolean"
          ? !value
          : "filled";
  return [
    { name: "nudged", to: nudged, oneLine: typeof value !== "string" || !value.includes("\n") },
    { name: "needs quotes", to: "yes: no # not a comment", oneLine: true },
    { name: "unicode", to: "naïve café 🙂", oneLine: true },
    { name: "structure", to: { a: [1, "two"], b: { c: null } }, oneLine: false },
  ];
}

describe.each(CORPUS)("property: every scalar leaf of $name", ({ format, text }) => {
  const leaves = format === "json" ? jsonLeaves(text) : yamlLeaves(text);

  it("has leaves to edit", () => {
    expect(leaves.length).toBeGreaterThan(3);
  });

  it("leaves the file identical when a leaf is set to its own value", () => {
    for (const leaf of leaves.filter((candidate) => !candidate.refusal)) {
      const key = formatDottedKey(leaf.path);
      const result = applyParamEdits(text, format, {
        [key]: { from: leaf.value, to: leaf.value },
      });
      expect(result, key).toEqual({ ok: true, text, changes: [] });
    }
  });

  it("changes exactly the value and only its lines, or refuses", () => {
    const before = parseAny(text, format);
    const beforeLines = text.split("\n").length;
    for (const leaf of leaves) {
      const key = formatDottedKey(leaf.path);
      const first = lineOf(text, leaf.start);
      const last = lineOf(text, Math.max(leaf.start, leaf.end - 1));
      for (const variant of variants(leaf.value)) {
        const label = `${key} ← ${variant.name}`;
        const result = applyParamEdits(text, format, { [key]: { to: variant.to } });
        if (leaf.refusal) {
          expect(result.ok, label).toBe(false);
          if (result.ok) continue;
          expect(result.code, label).toBe("FILE_UNPARSABLE");
          expect(result.key, label).toBe(key);
          expect(result.message, label).toMatch(leaf.refusal);
          continue;
        }
        if (!result.ok) throw new Error(`${label}: ${result.code}: ${result.message}`);
        expect(result.changes, label).toEqual([{ key, from: leaf.value, to: variant.to }]);

        // The round-trip rule, checked with the plain parsers: same document, one value changed,
        // key order included.
        const expected = structuredClone(before);
        setAt(expected, leaf.path, variant.to);
        expect(JSON.stringify(parseAny(result.text, format)), label).toBe(JSON.stringify(expected));

        // The minimal-diff rule: only the old value's lines changed.
        const diff = changedLines(text, result.text);
        const shift = result.text.split("\n").length - beforeLines;
        expect(diff.removed.length + diff.added.length, label).toBeGreaterThan(0);
        expect(
          diff.removed.every((line) => line >= first && line <= last),
          `${label}: ${JSON.stringify(diff)}`,
        ).toBe(true);
        expect(
          diff.added.every((line) => line >= first && line <= last + shift),
          `${label}: ${JSON.stringify(diff)}`,
        ).toBe(true);
        if (variant.oneLine && first === last)
          expect(diff, label).toEqual({ removed: [first], added: [first] });
        // A block scalar keeps its style (`|-`), so only one-line values collapse to one line.
        if (variant.name === "needs quotes" && !isBlock(text, leaf.start)) {
          expect(diff, label).toEqual({ removed: range(first, last), added: [first] });
        }
      }
    }
  });
});

describe("property: corpus sanity", () => {
  it("has about twenty files in both formats, with refusals to check", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(CORPUS.map((file) => file.format))).toEqual(new Set(["json", "yaml"]));
    const refused = CORPUS.filter((file) => file.format === "yaml").flatMap((file) =>
      yamlLeaves(file.text).filter((leaf) => leaf.refusal),
    );
    expect(refused.length).toBeGreaterThanOrEqual(5);
  });
});
