import { describe, expect, it } from "vitest";
import { deriveGitHubUrls, gitRemoteUrl, GitHubUrlError, isLoopbackHost } from "./github-urls.js";

function failureOf(input: string): GitHubUrlError {
  try {
    deriveGitHubUrls(input);
  } catch (error) {
    if (error instanceof GitHubUrlError) return error;
    throw error;
  }
  throw new Error(`expected deriveGitHubUrls(${JSON.stringify(input)}) to throw`);
}

const DOT_COM = {
  webUrl: "https://github.com",
  apiUrl: "https://api.github.com",
  graphqlUrl: "https://api.github.com/graphql",
  isGitHubDotCom: true,
};

describe("deriveGitHubUrls: github.com", () => {
  it.each([
    "https://github.com",
    "https://github.com/",
    "https://github.com///",
    "https://www.github.com",
    "https://www.github.com/",
    "HTTPS://GitHub.COM",
    "https://github.com:443",
  ])("%s → api.github.com", (input) => {
    expect(deriveGitHubUrls(input)).toEqual(DOT_COM);
  });

  it.each(["https://github.com/octo", "https://github.com/api/v3", "https://www.github.com/enterprise/"])(
    "refuses a path on github.com: %s",
    (input) => {
      const error = failureOf(input);
      expect(error.name).toBe("GitHubUrlError");
      expect(error.message).toBe("use https://github.com without a path");
    },
  );
});

describe("deriveGitHubUrls: any other base B → B/api/v3 and B/api/graphql", () => {
  it.each([
    {
      input: "https://ghe.example.com",
      web: "https://ghe.example.com",
    },
    {
      input: "https://ghe.example.com/",
      web: "https://ghe.example.com",
    },
    {
      input: "https://GHE.Example.COM",
      web: "https://ghe.example.com",
    },
    {
      input: "https://ghe.example.com:8443",
      web: "https://ghe.example.com:8443",
    },
    {
      input: "https://ghe.example.com/prefix",
      web: "https://ghe.example.com/prefix",
    },
    {
      input: "https://ghe.example.com/a/b//",
      web: "https://ghe.example.com/a/b",
    },
    {
      input: "http://localhost:3000",
      web: "http://localhost:3000",
    },
    {
      input: "http://LOCALHOST:3000/",
      web: "http://localhost:3000",
    },
    {
      input: "http://127.0.0.1:9999",
      web: "http://127.0.0.1:9999",
    },
    {
      input: "http://127.45.6.7/sim",
      web: "http://127.45.6.7/sim",
    },
    {
      input: "http://[::1]:8080/",
      web: "http://[::1]:8080",
    },
    {
      input: "https://localhost:8443",
      web: "https://localhost:8443",
    },
  ])("$input", ({ input, web }) => {
    expect(deriveGitHubUrls(input)).toEqual({
      webUrl: web,
      apiUrl: `${web}/api/v3`,
      graphqlUrl: `${web}/api/graphql`,
      isGitHubDotCom: false,
    });
  });
});

describe("deriveGitHubUrls: refusals", () => {
  it.each([
    {
      input: "http://github.com",
      message: "plain http:// is accepted only for loopback hosts; use https://github.com",
    },
    {
      input: "http://ghe.example.com",
      message: "plain http:// is accepted only for loopback hosts; use https://ghe.example.com",
    },
    {
      input: "http://ghe.example.com:8080/prefix",
      message: "plain http:// is accepted only for loopback hosts; use https://ghe.example.com:8080",
    },
    {
      input: "http://10.0.0.5",
      message: "plain http:// is accepted only for loopback hosts; use https://10.0.0.5",
    },
    {
      input: "http://localhost.example.com",
      message: "plain http:// is accepted only for loopback hosts; use https://localhost.example.com",
    },
    {
      input: "http://127.0.0.1.nip.io",
      message: "plain http:// is accepted only for loopback hosts; use https://127.0.0.1.nip.io",
    },
    {
      input: "http://[::2]",
      message: "plain http:// is accepted only for loopback hosts; use https://[::2]",
    },
    {
      input: "https://user:secret@ghe.example.com",
      message: "the GitHub URL must not carry credentials; configure a token ref instead",
    },
    {
      input: "https://x-access-token@github.com",
      message: "the GitHub URL must not carry credentials; configure a token ref instead",
    },
    {
      input: "http://user:pw@localhost:3000",
      message: "the GitHub URL must not carry credentials; configure a token ref instead",
    },
    {
      input: "https://ghe.example.com/?tab=repos",
      message: "the GitHub URL must not have a query string or fragment",
    },
    {
      input: "https://ghe.example.com/#top",
      message: "the GitHub URL must not have a query string or fragment",
    },
    {
      input: "https://github.com?x=1",
      message: "the GitHub URL must not have a query string or fragment",
    },
    {
      input: "ftp://ghe.example.com",
      message: 'unsupported scheme "ftp:"; use https://',
    },
    {
      input: "ssh://git@github.com",
      message: 'unsupported scheme "ssh:"; use https://',
    },
    {
      input: "file:///etc/passwd",
      message: 'unsupported scheme "file:"; use https://',
    },
    {
      input: "javascript:alert(1)",
      message: 'unsupported scheme "javascript:"; use https://',
    },
    {
      input: "github.com",
      message: '"github.com" is not a URL; expected e.g. https://github.com or https://ghe.example.com',
    },
    {
      input: "",
      message: '"" is not a URL; expected e.g. https://github.com or https://ghe.example.com',
    },
    {
      input: "not a url at all",
      message: '"not a url at all" is not a URL; expected e.g. https://github.com or https://ghe.example.com',
    },
    {
      input: "https://",
      message: '"https://" is not a URL; expected e.g. https://github.com or https://ghe.example.com',
    },
  ])("$input", ({ input, message }) => {
    const error = failureOf(input);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("GitHubUrlError");
    expect(error.message).toBe(message);
  });

  it("never echoes credentials in the error message", () => {
    const error = failureOf("https://user:hunter2-password@ghe.example.com");
    expect(error.message).not.toContain("hunter2-password");
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["localhost", true],
    ["LocalHost", true],
    ["127.0.0.1", true],
    ["127.255.255.254", true],
    ["127.1.2.3", true],
    ["[::1]", true],
    ["::1", true],
    ["128.0.0.1", false],
    ["127.0.0", false],
    ["127.0.0.1.5", false],
    ["127.0.0.1.example.com", false],
    ["localhost.example.com", false],
    ["mylocalhost", false],
    ["0.0.0.0", false],
    ["10.0.0.1", false],
    ["[::2]", false],
    ["github.com", false],
    ["", false],
  ] as const)("%s → %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe("gitRemoteUrl", () => {
  it.each([
    {
      base: "https://github.com",
      owner: "octo",
      repo: "hello-world",
      expected: "https://github.com/octo/hello-world.git",
    },
    {
      base: "https://www.github.com/",
      owner: "octo",
      repo: "hello",
      expected: "https://github.com/octo/hello.git",
    },
    {
      base: "https://ghe.example.com",
      owner: "platform",
      repo: "search.relevance",
      expected: "https://ghe.example.com/platform/search.relevance.git",
    },
    {
      base: "https://ghe.example.com/prefix/",
      owner: "octo",
      repo: "hello",
      expected: "https://ghe.example.com/prefix/octo/hello.git",
    },
    {
      base: "http://127.0.0.1:4999",
      owner: "octo",
      repo: "hello",
      expected: "http://127.0.0.1:4999/octo/hello.git",
    },
    {
      base: "https://ghe.example.com",
      owner: "a b",
      repo: "x/../y",
      expected: "https://ghe.example.com/a%20b/x%2F..%2Fy.git",
    },
  ])("$base + $owner/$repo → $expected", ({ base, owner, repo, expected }) => {
    expect(gitRemoteUrl(deriveGitHubUrls(base), owner, repo)).toBe(expected);
  });
});
