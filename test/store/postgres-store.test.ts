import { describe } from "vitest";
import { HAS_PG } from "../support/databases.js";
import { storeContract } from "./store.contract.js";

describe.skipIf(!HAS_PG)("PostgreSQL", () => {
  storeContract("postgres");
});
