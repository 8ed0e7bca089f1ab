import { jobQueueContract } from "./job-queue.contract.js";

jobQueueContract("sqlite");
