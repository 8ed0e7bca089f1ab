import { createHash } from "node:crypto";
import type { ProposalStatus } from "../../domain/proposal.js";
import {
  changedParts,
  semanticParts,
  withCarriedLogTails,
  withCarriedReview,
  type PrObservation,
  type PrState,
} from "../../domain/pull-request.js";
import { ProposalStore } from "../../store/proposal-store.js";
import { PullRequestStore, type PullRequestRecord } from "../../store/pull-request-store.js";
import type { RepoRecord } from "../../store/repo-store.js";
import type { EventLog } from "../event-log.js";
import type { SessionFacts } from "../sessions/session-facts.js";

/** The proposal status that follows a PR state (SPEC C4), and the statuses it may come from. */
const PROPOSAL_FOLLOWS: Record<PrState, { to: ProposalStatus; from: ProposalStatus[]; cause: string }> = {
  merged: { to: "merged", from: ["pr_opened", "closed"], cause: "pr_merged" },
  closed: { to: "closed", from: ["pr_opened"], cause: "pr_closed" },
  open: { to: "pr_opened", from: ["closed"], cause: "pr_reopened" },
};

export function observationHash(observation: PrObservation): string {
  return createHash("sha256")
    .update(JSON.stringify(semanticParts(observation)))
    .digest("hex")
    .slice(0, 32);
}

/**
 * Persists an observation (SPEC C4 loop step 3, first half): the PR row, `pr.observed` with the
 * semantic changes, `pr.state_changed`, and the linked proposal's status — all in one
 * transaction, so an observation is never half-applied. Reactions run after, from the stored row.
 */
export class ObservationWriter {
  constructor(
    private readonly events: EventLog,
    /** The session side of an observation: its status, and `merged` when its PRs are done. */
    private readonly sessionFacts?: SessionFacts,
  ) {}

  async write(input: {
    record: PullRequestRecord;
    repo: RepoRecord;
    observation: PrObservation;
    threadsFetched: boolean;
    fetchStartedAt: number;
    now: number;
  }): Promise<PullRequestRecord> {
    const { record, repo } = input;
    const previous = record.observation;
    const observation = withCarriedReview(withCarriedLogTails(input.observation, previous), previous);
    const changes = changedParts(previous, observation);
    const stateChanged = previous !== null && previous.state !== observation.state;
    const { result } = await this.events.transaction(async (trx, emit) => {
      const saved = await new PullRequestStore(trx).saveObservation(trx, record, {
        observation,
        observedHash: observationHash(observation),
        fetchedAt: input.now,
        fetchStartedAt: input.fetchStartedAt,
        threadsFetched: input.threadsFetched,
        sessionId: record.sessionId,
      });
      const common = { prId: record.id, repoId: repo.id, repo: repo.name, number: observation.number };
      if (changes.length > 0) {
        emit({
          kind: "pr.observed",
          sessionId: record.sessionId,
          payload: {
            ...common,
            changes,
            state: observation.state,
            ci: observation.ci.state,
            mergeable: observation.mergeable,
            reviewDecision: observation.reviewDecision,
            unresolvedThreads: saved.unresolvedThreads,
            headSha: observation.headSha,
          },
        });
      }
      if (stateChanged) {
        emit({
          kind: "pr.state_changed",
          sessionId: record.sessionId,
          payload: { ...common, from: previous.state, to: observation.state, url: observation.url },
        });
      }
      if (stateChanged || previous === null) {
        // The proposal that opened the PR and every follow-up pushed to it share its fate.
        const follow = PROPOSAL_FOLLOWS[observation.state];
        const proposals = new ProposalStore(trx);
        for (const before of await proposals.listOfPr(record.id, record.proposalId)) {
          const moved = await proposals.followPr(before.id, follow.from, follow.to, input.now);
          if (!moved.ok) continue;
          emit({
            kind: "proposal.status_changed",
            sessionId: moved.row.sessionId,
            payload: {
              proposalId: before.id,
              from: before.status,
              to: follow.to,
              cause: follow.cause,
              prId: record.id,
            },
          });
        }
      }
      const ended =
        record.sessionId !== null && this.sessionFacts
          ? await this.sessionFacts.prObserved(trx, emit, record.sessionId, input.now)
          : false;
      return { saved, ended };
    });
    // A session this observation ended (merged) gets its lesson once the ending is committed.
    if (result.ended && record.sessionId !== null) await this.sessionFacts?.ended(record.sessionId);
    return result.saved;
  }
}
