import { lessonStoreContract } from "./lesson-store.contract.js";

lessonStoreContract("sqlite");
