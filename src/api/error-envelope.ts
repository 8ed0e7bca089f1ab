import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError, ERROR_CODES, type ErrorCode } from "../domain/errors.js";

/** The one error envelope of every failed API response (SPEC C1 "HTTP API conventions"). */
export const errorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      retryable: z.boolean(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: "ErrorEnvelope" });

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> };
}

export function envelopeOf(error: AppError): ErrorEnvelope {
  return {
    error: {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.details ? { details: error.details } : {}),
    },
  };
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "MALFORMED_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "MALFORMED_REQUEST",
  FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_REQUEST",
  FST_ERR_NOT_FOUND: "NOT_FOUND",
  // Router errors (see frameworkErrors in http-app.ts): an over-long id names nothing that exists.
  FST_ERR_MAX_PARAM_LENGTH: "NOT_FOUND",
  FST_ERR_BAD_URL: "MALFORMED_REQUEST",
};

/** Maps anything thrown while handling a request to an AppError; null means "internal". */
export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? "request";
    const issues = error.validation.map((issue) => ({
      path: [where, ...String(issue.instancePath).split("/").filter(Boolean)].join("."),
      message: issue.message ?? "invalid",
    }));
    const first = issues[0];
    return new AppError(
      "VALIDATION_ERROR",
      first ? `invalid ${first.path}: ${first.message}` : `invalid ${where}`,
      { details: { issues } },
    );
  }
  const fastifyError = error as Partial<FastifyError>;
  if (typeof fastifyError.code === "string" && fastifyError.code.startsWith("FST_")) {
    const code = FASTIFY_CODES[fastifyError.code];
    if (code) return new AppError(code, fastifyError.message ?? code);
    if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
      return new AppError("MALFORMED_REQUEST", fastifyError.message ?? "malformed request");
    }
  }
  if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
    return new AppError("MALFORMED_REQUEST", "the request body is not valid JSON");
  }
  return null;
}

export function sendAppError(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
  if (error.code === "UNAUTHENTICATED") reply.header("www-authenticate", 'Bearer realm="shepherd"');
  return reply.status(error.status).type("application/json; charset=utf-8").send(envelopeOf(error));
}

/** For Fastify's `frameworkErrors`: errors raised by the router, before any hook or handler runs. */
export function handleFrameworkError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(error) ?? new AppError("MALFORMED_REQUEST", "the request cannot be routed");
  reply.header("x-request-id", request.id);
  void sendAppError(reply, appError);
}

/** Installs the error and not-found handlers: one envelope, opaque 500s with the request id logged. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError) return sendAppError(reply, appError);
    request.log.error({ err: error, reqId: request.id }, "unhandled error");
    return sendAppError(
      reply,
      new AppError("INTERNAL", `internal error; quote request id ${request.id} to an operator`, {
        details: { requestId: request.id },
      }),
    );
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendAppError(
      reply,
      new AppError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0] ?? ""}`),
    ),
  );
}
