import { describe } from "vitest";
import { HAS_PG } from "../support/databases.js";
import { lessonStoreContract } from "./lesson-store.contract.js";

describe.skipIf(!HAS_PG)("PostgreSQL", () => {
  lessonStoreContract("postgres");
});
