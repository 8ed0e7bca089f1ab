import type { EventSignal } from "../store/event-signal.js";
import type { EventStore, StoredEvent } from "../store/event-store.js";
import { eventEnvelopeJson } from "./event-envelope.js";

/** An event read once by the hub and shared by every subscriber, with its JSON envelope. */
export interface StreamedEvent {
  event: StoredEvent;
  json: string;
  /** The SSE frame, built by the first SSE client that sends it and reused by the others. */
  sse?: string;
}

export class StreamOverflowError extends Error {
  override name = "StreamOverflowError";
}

/** One subscriber's in-memory queue of live events; ends when closed, aborted or the hub stops. */
export class Subscription implements AsyncIterableIterator<StreamedEvent> {
  readonly #buffer: StreamedEvent[] = [];
  #waiter: ((result: IteratorResult<StreamedEvent>) => void) | null = null;
  #failWaiter: ((error: Error) => void) | null = null;
  #closed = false;
  #overflowed = false;

  constructor(
    readonly sessionId: string | undefined,
    private readonly maxBuffered: number,
    private readonly onClose: (subscription: Subscription) => void,
  ) {}

  push(item: StreamedEvent): void {
    if (this.#closed || this.#overflowed) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      this.#failWaiter = null;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#buffer.length >= this.maxBuffered) {
      // A reader this far behind re-reads from the store instead of holding memory.
      this.#overflowed = true;
      this.#buffer.length = 0;
      this.#failWaiter?.(new StreamOverflowError("subscriber fell too far behind"));
      return;
    }
    this.#buffer.push(item);
  }

  next(): Promise<IteratorResult<StreamedEvent>> {
    const item = this.#buffer.shift();
    if (item) return Promise.resolve({ value: item, done: false });
    if (this.#overflowed) return Promise.reject(new StreamOverflowError("subscriber fell too far behind"));
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer.length = 0;
    const waiter = this.#waiter;
    this.#waiter = null;
    this.#failWaiter = null;
    waiter?.({ value: undefined, done: true });
    this.onClose(this);
  }

  async return(): Promise<IteratorResult<StreamedEvent>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export interface EventHubOptions {
  pageSize?: number;
  maxBuffered?: number;
  /** Safety net for a missed wake-up (e.g. a dropped LISTEN connection); not the delivery path. */
  backstopMs?: number;
}

/**
 * Fans new events out to every stream of this process. Woken by the event signal, it reads
 * each new event from the store once and hands it to the matching subscribers.
 */
export class EventHub {
  readonly #subscriptions = new Set<Subscription>();
  readonly #pageSize: number;
  readonly #maxBuffered: number;
  readonly #backstopMs: number;
  #cursor = 0;
  #pumping = false;
  #again = false;
  #started = false;
  #stopped = false;
  #unsubscribe: (() => void) | null = null;
  #backstop: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly signal: EventSignal,
    private readonly onError: (error: unknown) => void = () => undefined,
    options: EventHubOptions = {},
  ) {
    this.#pageSize = options.pageSize ?? 1000;
    this.#maxBuffered = options.maxBuffered ?? 10_000;
    this.#backstopMs = options.backstopMs ?? 5000;
  }

  get subscriberCount(): number {
    return this.#subscriptions.size;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#cursor = await this.store.head();
    this.#unsubscribe = this.signal.subscribe((seq) => {
      if (seq === null || seq > this.#cursor) this.wake();
    });
    this.#backstop = setInterval(() => this.wake(), this.#backstopMs);
    this.#backstop.unref();
  }

  subscribe(sessionId: string | undefined): Subscription {
    const subscription = new Subscription(sessionId, this.#maxBuffered, (s) => this.#subscriptions.delete(s));
    if (this.#stopped) subscription.close();
    else this.#subscriptions.add(subscription);
    return subscription;
  }

  wake(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    void this.#pump();
  }

  /** Ends every subscription (their streams finish) and stops listening. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#backstop) clearInterval(this.#backstop);
    for (const subscription of [...this.#subscriptions]) subscription.close();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        for (;;) {
          const page = await this.store.readAfter({ after: this.#cursor, limit: this.#pageSize });
          for (const event of page) {
            const item: StreamedEvent = { event, json: eventEnvelopeJson(event) };
            for (const subscription of this.#subscriptions) {
              if (subscription.sessionId === undefined || subscription.sessionId === event.sessionId) {
                subscription.push(item);
              }
            }
            this.#cursor = event.seq;
          }
          if (page.length < this.#pageSize) break;
        }
      } while (this.#again && !this.#stopped);
    } catch (error) {
      this.onError(error);
    } finally {
      this.#pumping = false;
    }
  }
}
