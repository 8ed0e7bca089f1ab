import { pino, stdSerializers, type DestinationStream, type Logger } from "pino";
import type { SecretRedactor } from "../domain/redact.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: string;
  redactor: SecretRedactor;
  /** Where JSON lines go; stdout by default. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

/**
 * pino JSON logs. Every serialized line passes through the secret redactor just before it is
 * written, so messages, fields, nested objects and error stacks are all covered, whatever logged them.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "shepherd" },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      hooks: {
        streamWrite: (line: string) => options.redactor.redact(line),
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
