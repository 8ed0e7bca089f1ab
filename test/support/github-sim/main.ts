/**
 * `npm run sim [-- --port 4781 --host 127.0.0.1]`: the GitHub simulator as a standalone server for
 * local demos and manual poking. Prints its base URL and admin token; stops on SIGINT / SIGTERM.
 */
import { parseArgs } from "node:util";
import { startGitHubSimulator } from "./simulator.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4781" },
    host: { type: "string", default: "127.0.0.1" },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid --port ${values.port}\n`);
  process.exit(2);
}

const sim = await startGitHubSimulator({ port, host: values.host });
process.stdout.write(
  `GitHub simulator listening on ${sim.baseUrl}\n` +
    `REST API: ${sim.baseUrl}/api/v3   GraphQL: ${sim.baseUrl}/api/graphql   git: ${sim.baseUrl}/<owner>/<repo>.git\n` +
    `admin token: ${sim.adminToken}\n` +
    `example: curl -s -X POST -H "Authorization: Bearer ${sim.adminToken}" ` +
    `-d '{"owner":"acme","name":"widgets","files":{"README.md":"hello\\n"}}' ${sim.baseUrl}/_sim/createRepo\n`,
);

let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping\n`);
  sim.stop().then(
    () => {
      process.stdout.write("stopped\n");
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`stop failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
