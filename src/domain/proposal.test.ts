import { describe, expect, it } from "vitest";
import { carriesProposalTrailer, commitTrailers, proposalBranch } from "./proposal.js";

describe("proposalBranch", () => {
  it("names a session's branch after the session and a lone proposal after itself", () => {
    expect(proposalBranch({ id: "prop_1", sessionId: "sess-9" })).toBe("shepherd/session-sess-9");
    expect(proposalBranch({ id: "prop_1", sessionId: null })).toBe("shepherd/proposal-prop_1");
  });
});

describe("commit trailers", () => {
  const message = "Tune boosts\n\nRaises title boost.\n\nShepherd-Proposal: prop_abc\nShepherd-Session: s1\n";

  it("reads the trailer paragraph", () => {
    expect(commitTrailers(message).get("shepherd-proposal")).toEqual(["prop_abc"]);
    expect(commitTrailers(message).get("shepherd-session")).toEqual(["s1"]);
  });

  it.each([
    ["our own commit", message, "prop_abc", true],
    ["another proposal's commit", message, "prop_xyz", false],
    ["a trailer-looking subject line only", "Shepherd-Proposal: prop_abc\n", "prop_abc", false],
    [
      "the id in the body, not as a trailer",
      "Title\n\nmentions Shepherd-Proposal: prop_abc here\n",
      "prop_abc",
      false,
    ],
    [
      "a last paragraph with a non-trailer line",
      "Title\n\nShepherd-Proposal: prop_abc\nnot a trailer\n",
      "prop_abc",
      false,
    ],
    ["someone else's branch", "Fix typo\n\nSigned-off-by: a <a@b>\n", "prop_abc", false],
    ["a lower-case key", "Title\n\nshepherd-proposal: prop_abc\n", "prop_abc", true],
  ])("%s", (_name, text, id, expected) => {
    expect(carriesProposalTrailer(text, id)).toBe(expected);
  });
});
