/**
 * Whether a repo's webhooks can be trusted (SPEC C4): a verified delivery arrived within the
 * window, and no change has been seen since that no webhook announced. While they are healthy the
 * observer's poll relaxes to the reconcile interval.
 */
export function webhookHealthy(
  state: { webhookLastDeliveryAt: number | null; webhookMissedAt: number | null } | null,
  now: number,
  windowMs: number,
): boolean {
  if (!state?.webhookLastDeliveryAt) return false;
  if (now - state.webhookLastDeliveryAt > windowMs) return false;
  return !(state.webhookMissedAt !== null && state.webhookMissedAt >= state.webhookLastDeliveryAt);
}
