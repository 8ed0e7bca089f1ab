/**
 * Wakes event stream readers when an append commits: no reader sleeps in a polling loop.
 * `seq` is the newest committed seq when known, or null for "something may have changed"
 * (after a reconnect), which makes readers check the store.
 */
export type EventSignalListener = (seq: number | null) => void;

export interface EventSignal {
  /** Called by the appender in this process once its transaction has committed. */
  publishLocal(seq: number): void;
  subscribe(listener: EventSignalListener): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

export class ListenerSet {
  readonly #listeners = new Set<EventSignalListener>();

  add(listener: EventSignalListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(seq: number | null): void {
    for (const listener of this.#listeners) listener(seq);
  }
}

/** Embedded mode: one process, so the appender's own notification is all there is. */
export class LocalEventSignal implements EventSignal {
  readonly #listeners = new ListenerSet();

  publishLocal(seq: number): void {
    this.#listeners.emit(seq);
  }

  subscribe(listener: EventSignalListener): () => void {
    return this.#listeners.add(listener);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
