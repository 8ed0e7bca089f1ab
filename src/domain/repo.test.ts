import { describe, expect, it } from "vitest";
import { parseRepoUrl, REPO_NAME, repoWebUrl } from "./repo.js";

describe("parseRepoUrl", () => {
  it.each([
    ["https://github.com/acme/search-config", "https://github.com", { owner: "acme", repo: "search-config" }],
    [
      "https://github.com/acme/search-config.git",
      "https://github.com",
      { owner: "acme", repo: "search-config" },
    ],
    [
      "https://github.com/acme/search-config/",
      "https://github.com",
      { owner: "acme", repo: "search-config" },
    ],
    ["https://GitHub.com/Acme/Repo.js", "https://github.com", { owner: "Acme", repo: "Repo.js" }],
    ["https://ghe.example.com/org/repo", "https://ghe.example.com", { owner: "org", repo: "repo" }],
    [
      "https://ghe.example.com/prefix/org/repo",
      "https://ghe.example.com/prefix",
      { owner: "org", repo: "repo" },
    ],
    ["http://127.0.0.1:4781/acme/app.git", "http://127.0.0.1:4781", { owner: "acme", repo: "app" }],
  ])("accepts %s on %s", (url, web, expected) => {
    expect(parseRepoUrl(url, web)).toEqual(expected);
  });

  it.each([
    ["https://gitlab.com/acme/repo", "https://github.com"],
    ["http://github.com/acme/repo", "https://github.com"],
    ["https://github.com/acme", "https://github.com"],
    ["https://github.com/acme/repo/tree/main", "https://github.com"],
    ["https://user:pass@github.com/acme/repo", "https://github.com"],
    ["https://github.com/acme/repo?x=1", "https://github.com"],
    ["https://github.com/acme/repo#readme", "https://github.com"],
    ["https://github.com/-acme/repo", "https://github.com"],
    ["https://github.com/acme/..", "https://github.com"],
    ["https://github.com/ac me/repo", "https://github.com"],
    ["git@github.com:acme/repo.git", "https://github.com"],
    ["not a url", "https://github.com"],
    ["https://ghe.example.com/org/repo", "https://ghe.example.com/prefix"],
    ["https://github.com.evil.com/acme/repo", "https://github.com"],
  ])("refuses %s on %s", (url, web) => {
    expect(parseRepoUrl(url, web)).toBeNull();
  });

  it("builds the web URL back", () => {
    expect(repoWebUrl("https://github.com/", { owner: "acme", repo: "app" })).toBe(
      "https://github.com/acme/app",
    );
  });

  it.each(["search-config", "a", "a.b_c-d", "0day"])("accepts repo name %s", (name) => {
    expect(REPO_NAME.test(name)).toBe(true);
  });

  it.each(["", "Upper", "-lead", "with space", "a/b", "x".repeat(64)])("refuses repo name %j", (name) => {
    expect(REPO_NAME.test(name)).toBe(false);
  });
});
