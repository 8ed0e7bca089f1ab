import { parseSecretRef, resolveSecretRef, SecretRefError } from "../config/secret-ref.js";
import type { SecretRedactor } from "../domain/redact.js";

/**
 * Reads secrets by ref, fresh every time (a rotated file takes effect on the next use), and
 * teaches the redactor every value it hands out.
 */
export class SecretReader {
  constructor(
    private readonly home: string,
    private readonly redactor: SecretRedactor,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async read(ref: string): Promise<string> {
    const secret = await resolveSecretRef(parseSecretRef(ref), this.home, this.env);
    this.redactor.add(secret.value);
    return secret.value;
  }

  /** The reason a ref cannot be read, or null when it can. */
  async problem(ref: string): Promise<string | null> {
    try {
      await this.read(ref);
      return null;
    } catch (error) {
      if (error instanceof SecretRefError) return error.message;
      throw error;
    }
  }
}
